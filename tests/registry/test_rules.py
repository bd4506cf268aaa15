import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.identity.rules import check_nik
from prakerja.registry import rules

TODAY = date(2026, 11, 24)
PARAMS = rules.DEFAULT_PARAMS


def _decide(**facts) -> rules.Decision:
    return rules.decide(rules.Facts(**{"birth_date": date(2000, 1, 1), **facts}), params=PARAMS, today=TODAY)


def test_an_adult_on_no_list_is_eligible() -> None:
    decision = _decide()
    assert decision.eligible and decision.reasons == () and decision.mask == 0


def test_age_limits_with_the_birthday_counted_exactly() -> None:
    assert _decide(birth_date=date(2008, 11, 24)).eligible
    assert [r.code for r in _decide(birth_date=date(2008, 11, 25)).reasons] == ["under_age"]
    older = rules.decide(
        rules.Facts(birth_date=date(1960, 1, 1)), params={**PARAMS, "max_age": 64}, today=TODAY
    )
    assert [r.code for r in older.reasons] == ["over_age"]
    assert "64" in older.reasons[0].message


def test_every_failing_rule_is_reported_in_a_stable_order() -> None:
    decision = _decide(
        birth_date=date(2010, 1, 1), citizen=False, lists=frozenset({"blacklist", "student"}), kk_recipients=2
    )
    assert [r.code for r in decision.reasons] == [
        "under_age",
        "not_citizen",
        "kk_limit",
        "student",
        "blacklist",
    ]
    assert rules.reasons_from_mask(decision.mask, PARAMS) == decision.reasons


def test_a_rule_set_can_ignore_a_list() -> None:
    params = {**PARAMS, "excluded_lists": [k for k in rules.LIST_RULES if k != "student"]}
    facts = rules.Facts(birth_date=date(2000, 1, 1), lists=frozenset({"student"}))
    assert rules.decide(facts, params=params, today=TODAY).eligible


def test_every_rule_has_a_bit_and_a_message_in_both_languages() -> None:
    from django.utils import translation

    assert set(rules.RULE_CODES) == set(rules.LIST_RULES) | set(rules.OTHER_RULES)
    assert len(set(rules.RULE_BIT.values())) == len(rules.RULE_CODES)
    for code in rules.RULE_CODES:
        reason = rules.Reason(code, rules.params_for(code, {**PARAMS, "max_age": 64}))
        with translation.override("en"):
            english = reason.message
        with translation.override("id"):
            indonesian = reason.message
        assert english and indonesian and english != indonesian


@pytest.mark.django_db
def test_nik_agreement_names_each_disagreeing_field() -> None:
    from prakerja.regions.selectors import names_above_villages

    nik = check_nik("3276014501990003", known_regions=names_above_villages(), today=TODAY)
    assert rules.nik_agreement(nik, birth_date=date(1999, 1, 5), sex="P", district="327601") == []
    problems = rules.nik_agreement(nik, birth_date=date(1999, 1, 6), sex="L", district="327602")
    assert [p.code for p in problems] == [
        "birth_date:disagrees_with_nik",
        "sex:disagrees_with_nik",
        "village_code:disagrees_with_nik",
    ]
    assert "1999-01-05" in problems[0].message


def test_active_reasons_follow_the_rule_set() -> None:
    assert "over_age" not in [r.code for r in rules.active_reasons(PARAMS)]
    params = {**PARAMS, "max_age": 64, "excluded_lists": ["blacklist"]}
    codes = [r.code for r in rules.active_reasons(params)]
    assert codes == ["under_age", "over_age", "not_citizen", "kk_limit", "blacklist"]
    assert all(r.message for r in rules.active_reasons(params))


@pytest.mark.django_db
def test_rules_command_makes_new_versions_and_keeps_what_is_not_given(capsys) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No rule set yet"):
        call_command("rules", "show")
    call_command("rules", "new", "--max-age", "64", "--note", "2026 wave rules")
    call_command("rules", "new", "--excluded-lists", "blacklist,student")
    capsys.readouterr()
    call_command("rules", "show")
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 2 and shown["max_age"] == 64 and shown["min_age"] == 18
    assert shown["excluded_lists"] == ["blacklist", "student"]
    with pytest.raises(CommandError):
        call_command("rules", "new", "--min-age", "7")
    with pytest.raises(CommandError, match="--max-per-kk must be at least 1"):
        call_command("rules", "new", "--max-per-kk", "0")


# Two districts of Kota Bandung with two villages each: enough for people and for rows that go wrong. One
# digit changed makes a number's province (42), regency (3274) or district (327311) the only unknown part.
VILLAGES = [("3273011001", True), ("3273011002", False), ("3273021001", True), ("3273021002", False)]
KNOWN = {"32", "3273", "327301", "327302", "4273", "427301", "327401"}


def _shifted(value: str, days: int = 0, years: int = 0) -> str:
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return value
    return (born.replace(year=born.year + years) + timedelta(days=days)).isoformat()


# The ways a value in a file goes wrong (or stays right): from the value, another person's, and a position.
MUTATIONS = {
    "empty": lambda v, other, at: "",
    "blank": lambda v, other, at: "  ",
    "none": lambda v, other, at: None,
    "padded": lambda v, other, at: f" {v} ",
    "upper": lambda v, other, at: v.upper(),
    "other": lambda v, other, at: other,
    "digit": lambda v, other, at: (
        v[:at] + str((int(v[at]) + 1) % 10) + v[at + 1 :] if v[at : at + 1].isdigit() else v
    ),
    "unicode_digit": lambda v, other, at: v[:at] + "\u0663" + v[at + 1 :],
    "zero_serial": lambda v, other, at: v[:12] + "0000",
    "dotted": lambda v, other, at: f"{v[:2]}.{v[2:4]}.{v[4:6]}.{v[6:]}",
    "long": lambda v, other, at: v * 40,
    "plus": lambda v, other, at: "+62" + v[1:],
    "at_less": lambda v, other, at: v.replace("@", ""),
    "compact_date": lambda v, other, at: v.replace("-", ""),
    "week_date": lambda v, other, at: "1990-W01-1",
    "day_later": lambda v, other, at: _shifted(v, days=1),
    "century_earlier": lambda v, other, at: _shifted(v, years=-100),
    "capitalised": lambda v, other, at: v.capitalize(),
}


CONTEXT = {"known_regions": KNOWN, "villages": {code for code, _ in VILLAGES}, "today": TODAY}


def _rows(seed: int) -> tuple[dict, dict]:
    first, other = generate_people(2, villages=VILLAGES, seed=seed, today=TODAY)
    return dict(zip(COLUMNS, first.row(), strict=True)), dict(zip(COLUMNS, other.row(), strict=True))


def _changed(row: dict, other: dict, column: str, how: str, at: int) -> dict:
    if how == "missing":
        return {k: v for k, v in row.items() if k != column}
    if row.get(column) is None:
        return row
    return {**row, column: MUTATIONS[how](row[column], other[column], at)}


def test_a_clean_row_is_read_quickly_and_as_in_full() -> None:
    """Clean rows take the quick path; a row with any one value changed reads as the full check reads it."""
    for seed in range(12):
        row, other = _rows(seed)
        assert rules._clean_profile(row, *CONTEXT.values()) == rules._read_in_full(row, **CONTEXT)
        for column in COLUMNS:
            for how in [*MUTATIONS, "missing"]:
                for at in range(16) if how.endswith("digit") else [0]:
                    changed = _changed(row, other, column, how, at)
                    assert rules.read_row(changed, **CONTEXT) == rules._read_in_full(changed, **CONTEXT)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    changes=st.lists(
        st.tuples(st.sampled_from(COLUMNS), st.sampled_from([*MUTATIONS, "missing"]), st.integers(0, 15)),
        max_size=3,
    ),
)
def test_any_row_reads_as_in_full(seed: int, changes: list) -> None:
    row, other = _rows(seed)
    for column, how, at in changes:
        row = _changed(row, other, column, how, at)
    assert rules.read_row(row, **CONTEXT) == rules._read_in_full(row, **CONTEXT)
