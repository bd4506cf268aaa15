"""The pure rules: folding, sanitising, what trainings and sessions need, the checklist, prices."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from prakerja.catalog import rules

SECTORS, LEVELS, MODES = {"it", "sales"}, {"beginner"}, {"online", "offline", "hybrid"}


@pytest.fixture(autouse=True)
def _english() -> object:
    with translation.override("en"):
        yield


def draft(**overrides) -> rules.TrainingDraft:
    fields = dict(
        title_id="Barista",
        title_en="Barista",
        description_id="<p>Kopi</p>",
        description_en="<p>Coffee</p>",
        skills=("Espresso",),
        sector="it",
        level="beginner",
        mode="online",
        hours=10,
        price=500_000,
    )
    fields.update(overrides)
    return rules.TrainingDraft(**fields)


def codes(problems) -> set[str]:
    return {p.code for p in problems}


def check(d: rules.TrainingDraft, price_max: int = 5_000_000):
    return rules.training_problems(d, price_max=price_max, sectors=SECTORS, levels=LEVELS, modes=MODES)


def test_fold_lowercases_strips_accents_and_punctuation() -> None:
    assert rules.fold("  Kopi Tubruk — Café & Bäckerei!\n(Level-2) ") == "kopi tubruk cafe backerei level 2"
    assert rules.fold("") == ""
    assert rules.query_words("Café cafe  KOPI, kopi!") == ["cafe", "kopi"]
    assert len(rules.query_words(" ".join(f"w{i}" for i in range(20)))) == rules.MAX_QUERY_WORDS


def test_sanitise_keeps_only_simple_markup_and_plain_strips_everything() -> None:
    dirty = (
        '<p onclick="x()">Hi <strong>there</strong> <a href="javascript:1">link</a></p>'
        "<script>alert(1)</script><ul><li><em>one</em></li></ul><img src=x onerror=y><br>"
    )
    clean = rules.sanitise(dirty)
    assert clean == "<p>Hi <strong>there</strong> link</p><ul><li><em>one</em></li></ul><br>"
    assert rules.plain("<b>Fish &amp; chips</b><script>x</script>") == "Fish & chips"


def test_search_text_folds_titles_descriptions_without_tags_skills_and_institution() -> None:
    text = rules.search_text(
        titles=("Kursus Kopi", "Coffee Course"),
        descriptions=("<p>Seduh <strong>manual</strong></p>",),
        skills=("Latte art",),
        institution="Lembaga Café Jaya",
    )
    assert text == "kursus kopi coffee course seduh manual latte art lembaga cafe jaya"


def test_a_complete_training_has_no_problem() -> None:
    assert check(draft()) == []


def test_every_missing_field_is_named() -> None:
    empty = draft(
        title_id=" ",
        title_en="",
        description_id="<p> </p>",
        description_en="",
        skills=(),
        sector="x",
        level="",
        mode="boat",
        hours=0,
        price=0,
    )
    assert codes(check(empty)) == {
        "title_id:missing",
        "title_en:missing",
        "description_id:missing",
        "description_en:missing",
        "skills:missing",
        "sector:unknown",
        "level:unknown",
        "mode:unknown",
        "hours:out_of_range",
        "price:not_positive",
    }
    messages = {p.code: p.message for p in check(empty)}
    assert messages["title_en:missing"] == "Enter the title in English."
    assert messages["hours:out_of_range"] == "Hours must be between 1 and 500."


def test_hours_and_price_bounds() -> None:
    assert check(draft(hours=1)) == [] and check(draft(hours=500)) == []
    assert codes(check(draft(hours=501))) == {"hours:out_of_range"}
    assert check(draft(price=5_000_000)) == []
    above = check(draft(price=5_000_001))
    assert codes(above) == {"price:above_maximum"}
    assert above[0].message == "The price is above the programme's maximum of Rp5.000.000 per training."
    assert codes(check(draft(price=3_000_000), price_max=2_000_000)) == {"price:above_maximum"}
    assert codes(check(draft(skills=tuple(f"s{i}" for i in range(21))))) == {"skills:too_many"}


def test_sessions_in_person_need_a_place_and_a_capacity() -> None:
    start = datetime(2026, 12, 1, 2, tzinfo=UTC)
    online = rules.session_problems(
        mode="online",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        village_code="",
        address="",
        capacity=None,
    )
    assert online == []
    for mode in ("offline", "hybrid"):
        bare = rules.session_problems(
            mode=mode, starts_at=start, ends_at=start, village_code="", address=" ", capacity=0
        )
        assert codes(bare) == {
            "ends_at:before_start",
            "village_code:missing",
            "address:missing",
            "capacity:missing",
        }
    assert codes(
        rules.session_problems(
            mode="offline",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            village_code="32730",
            address="Jl. A",
            capacity=5,
        )
    ) == {"village_code:invalid"}
    assert rules.submission_problems(mode="offline", sessions=0)[0].code == "sessions:missing"
    assert rules.submission_problems(mode="online", sessions=0) == []


def test_approval_needs_every_applicable_item_and_other_outcomes_need_reasons() -> None:
    everything = dict.fromkeys(rules.CHECKLIST, True)
    online_items = {k: True for k in rules.CHECKLIST if k != "schedule"}
    assert rules.curation_problems(outcome="approve", mode="online", checklist=online_items, reasons="") == []
    missing = rules.curation_problems(outcome="approve", mode="offline", checklist=online_items, reasons="")
    assert codes(missing) == {"checklist:unticked"}
    assert "Schedule, venue and capacity" in missing[0].message
    for outcome in ("changes", "reject", "suspend", "reinstate"):
        assert codes(rules.curation_problems(outcome=outcome, mode="online", checklist={}, reasons=" ")) == {
            "reasons:missing"
        }
        assert rules.curation_problems(outcome=outcome, mode="online", checklist={}, reasons="Why") == []
    assert codes(
        rules.curation_problems(
            outcome="approve", mode="online", checklist={**everything, "x": True}, reasons=""
        )
    ) == {"checklist:unknown"}
    assert "schedule" not in rules.checklist_for("online") and "schedule" in rules.checklist_for("hybrid")


def test_reference_prices_need_five_trainings_and_outliers_are_beyond_the_factor() -> None:
    points = [
        rules.PricePoint(i, "it", "online", price, 10)
        for i, price in enumerate(
            (1_000_000, 1_100_000, 1_200_000, 900_000, 1_000_000, 2_100_000, 400_000), start=1
        )
    ]
    points += [rules.PricePoint(100 + i, "it", "offline", 1_000_000, 10) for i in range(4)]
    references = rules.reference_prices(points)
    assert list(references) == [("it", "online")]  # the offline group has only four
    assert references[("it", "online")].median_per_hour == 100_000
    assert references[("it", "online")].trainings == 7
    outliers = rules.price_outliers(points, references)
    assert [(o.training_id, round(o.ratio, 2)) for o in outliers] == [(7, 0.4), (6, 2.1)]
    assert [o.training_id for o in rules.price_outliers(points, references, factor=3)] == []
    assert [o.training_id for o in rules.price_outliers(points, references, factor=1.15)] == [7, 6, 3]
    assert rules.reference_prices(points, min_trainings=4).keys() == {("it", "online"), ("it", "offline")}


def test_review_ratings_are_whole_numbers_from_one_to_five() -> None:
    assert rules.review_problems(rating=5, text="ok") == []
    for bad in (0, 6, True, 4.5):
        assert codes(rules.review_problems(rating=bad, text="")) == {"rating:out_of_range"}
    assert codes(rules.review_problems(rating=3, text="x" * 2001)) == {"text:too_long"}
