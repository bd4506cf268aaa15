"""The wave pages: the programme office runs a wave step by step, the public checks the draw, and a
participant joins and learns the outcome."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from prakerja.ledger.selectors import balance
from prakerja.registry.models import Applicant
from prakerja.registry.services import exclusion_list_extend
from prakerja.waves import rules
from prakerja.waves.models import Card, Entry, EntryStatus, Scheme, Wave, WaveStatus
from prakerja.waves.selectors import draw_verify
from prakerja.waves.services import (
    draw_files,
    seed_commit,
    wave_announce,
    wave_close,
    wave_join,
    wave_open,
    wave_select,
)
from tests.waves.helpers import SEED, drawn_wave, new_wave, open_wave_with, participant, population

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> list[Applicant]:
    return population(120)


def _form(**overrides: str) -> dict[str, object]:
    now = timezone.localtime()
    data: dict[str, object] = {
        "number": "7",
        "name": "Gelombang 7",
        "scheme": str(Scheme.objects.get(code="semi-bansos-2020").pk),
        "opens_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M"),
        "total_quota": "30",
        "quotas": "31 10\r\n32 20\r\n32.73 8\r\n32.04, 12\r\n",
        "priority_employment": ["laid_off", "unemployed"],
        "priority_regions": "32.04 31",
        "priority_rural": "on",
    }
    data.update(overrides)
    return data


def test_only_the_programme_office_sees_waves_and_only_officers_change_them(make_user, staff_client) -> None:
    participant_client = Client()
    participant_client.force_login(make_user("participant"))
    assert participant_client.get("/pmo/gelombang/").status_code == 403
    assert participant_client.get("/pmo/gelombang/simulasi/").status_code == 403
    assert Client().get("/pmo/gelombang/")["Location"].startswith("/akun/masuk/")
    assert staff_client("finance_officer").get("/pmo/gelombang/").status_code == 403
    new_wave(1)
    for role in ("auditor", "me_analyst"):
        reader = staff_client(role)
        page = reader.get("/pmo/gelombang/").content.decode()
        assert "Gelombang 1" in page and "Create the wave" not in page
        assert "Open for joining" not in reader.get("/pmo/gelombang/1/").content.decode()
        assert reader.post("/pmo/gelombang/", _form()).status_code == 403
        assert reader.post("/pmo/gelombang/1/buka/").status_code == 403
    assert Wave.objects.get().status == WaveStatus.DRAFT
    assert participant_client.post("/pmo/gelombang/1/buka/").status_code == 403
    assert "/pmo/gelombang/" in staff_client("selection_officer").get("/pmo/").content.decode()
    assert "/pmo/gelombang/" not in staff_client("finance_officer").get("/pmo/").content.decode()


def test_a_selection_officer_creates_a_wave_and_is_told_what_is_wrong(staff_client) -> None:
    officer = staff_client("selection_officer")
    wrong_sum = officer.post("/pmo/gelombang/", _form(total_quota="35"))
    assert wrong_sum.status_code == 200
    assert "The province quotas add up to 30, not to the total quota 35." in wrong_sum.content.decode()
    bad_line = officer.post("/pmo/gelombang/", _form(quotas="31 10\nthirty-two\n32 20")).content.decode()
    assert "Line 2: expected a region code and a number of places." in bad_line
    unknown = officer.post("/pmo/gelombang/", _form(priority_regions="99")).content.decode()
    assert "Unknown province or regency 99." in unknown
    assert not Wave.objects.exists()

    created = officer.post("/pmo/gelombang/", _form())
    assert created.status_code == 302 and created["Location"] == "/pmo/gelombang/7/"
    wave = Wave.objects.get()
    assert dict(wave.quotas.values_list("region_code", "places")) == {
        "31": 10,
        "32": 20,
        "3273": 8,
        "3204": 12,
    }
    assert wave.priority == {
        "employment": ["laid_off", "unemployed"],
        "regions": ["3204", "31"],
        "rural": True,
    }
    assert wave.status == WaveStatus.DRAFT and wave.created_by is not None
    again = officer.post("/pmo/gelombang/", _form(name="Another")).content.decode()
    assert "Wave 7 already exists." in again
    page = officer.get("/pmo/gelombang/7/").content.decode()
    assert "BANDUNG" in page.upper() and "3273" in page
    assert "Laid off" in page
    listing = officer.get("/pmo/gelombang/").content.decode()
    assert "Gelombang 7" in listing and "WIB" in listing


def test_the_form_errors_follow_the_request_language(staff_client) -> None:
    officer = staff_client("selection_officer")
    problem = "The province quotas add up to %(sum)d, not to the total quota %(total)d."
    for language, required in (("id", "Bidang ini tidak boleh kosong."), ("en", "This field is required.")):
        officer.defaults["HTTP_ACCEPT_LANGUAGE"] = language
        page = officer.post("/pmo/gelombang/", _form(total_quota="35")).content.decode()
        with translation.override(language):
            expected = gettext(problem) % {"sum": 30, "total": 35}
        assert f'lang="{language}"' in page and escape(expected) in page
        assert required in officer.post("/pmo/gelombang/", _form(name="")).content.decode()
    assert not Wave.objects.exists()


def test_the_whole_wave_runs_through_the_detail_page(people, staff_client) -> None:
    officer = staff_client("selection_officer")
    officer.post(
        "/pmo/gelombang/", _form(number="1", opens_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    )
    detail = "/pmo/gelombang/1/"
    assert 'data-testid="open"' in officer.get(detail).content.decode()

    opened = officer.post(f"{detail}buka/", follow=True).content.decode()
    assert "Wave 1 is open for joining" in opened
    assert officer.post(f"{detail}buka/", follow=True).content.decode().count("this step needs it") == 1
    wave = Wave.objects.get(number=1)

    for applicant in people:
        if applicant.eligible:
            wave_join(wave=wave, applicant=applicant)
    assert 'data-testid="close"' not in officer.get(detail).content.decode()  # no commitment yet
    bad = officer.post(f"{detail}komitmen/", {"commitment": "abc"}).content.decode()
    assert "A commitment is 64 hexadecimal characters." in bad and 'value="abc"' in bad
    commitment = rules.commitment(SEED)
    officer.post(f"{detail}komitmen/", {"commitment": commitment.upper()})
    page = officer.get(detail).content.decode()
    assert commitment in page and 'data-testid="close"' in page

    closed = officer.post(f"{detail}tutup/", follow=True).content.decode()
    assert "Wave 1 is closed" in closed
    mismatch = officer.post(f"{detail}undi/", {"seed": "00" * 32}).content.decode()
    assert "does not match the commitment" in mismatch
    assert Wave.objects.get(number=1).status == WaveStatus.CLOSED
    drawn = officer.post(f"{detail}undi/", {"seed": SEED}, follow=True).content.decode()
    assert "Wave 1 is drawn" in drawn and SEED in drawn
    wave.refresh_from_db()
    assert wave.status == WaveStatus.SELECTED and draw_verify(wave).ok

    announced = officer.post(f"{detail}umumkan/", follow=True).content.decode()
    selected = Entry.objects.filter(wave=wave, status=EntryStatus.SELECTED).count()
    assert f"Results announced: {selected} cards issued" in announced
    assert Card.objects.count() == selected > 0
    final = officer.get(detail).content.decode()
    assert 'id="next-step"' not in final and "Announced" in final

    fairness = officer.get(f"{detail}keadilan/").content.decode()
    assert fairness.count('data-testid="fairness-table"') == 5
    entrants = Entry.objects.filter(wave=wave).count()
    assert f"{selected / entrants * 100:.1f} %" in fairness
    assert "With a disability" in fairness or "Without a disability" in fairness


def test_the_public_draw_page_shows_the_seed_only_after_the_draw(people) -> None:
    visitor = Client(HTTP_ACCEPT_LANGUAGE="en")
    draft = new_wave(1)
    assert visitor.get("/gelombang/1/undian/").status_code == 404
    draft.delete()
    wave = open_wave_with(people)
    page = visitor.get("/gelombang/1/undian/").content.decode()
    assert wave.seed_commitment in page and SEED not in page and 'data-testid="seed-hidden"' in page
    assert visitor.get("/gelombang/1/undian/masukan.csv").status_code == 404
    assert visitor.get("/gelombang/1/undian/manifes.json").status_code == 404

    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    page = visitor.get("/gelombang/1/undian/").content.decode()
    assert (
        SEED in page
        and "prakerja waves verify --manifest wave-1-draw.json --inputs wave-1-inputs.csv" in page
    )
    assert "docs/selection.md" in page
    inputs_path, manifest_path = draw_files(wave)
    inputs = visitor.get("/gelombang/1/undian/masukan.csv")
    assert inputs.status_code == 200 and b"".join(inputs.streaming_content) == inputs_path.read_bytes()
    assert 'filename="wave-1-inputs.csv"' in inputs["Content-Disposition"]
    manifest = visitor.get("/gelombang/1/undian/manifes.json")
    published = json.loads(b"".join(manifest.streaming_content))
    assert published["seed"] == SEED and published["commitment"] == wave.seed_commitment
    selected = sum(len(v) for v in published["selected"].values())
    assert f'data-testid="selected">{selected}<' in page
    # Pseudonyms only: no name of any entrant on the page or in the files.
    text = page + inputs_path.read_text() + manifest_path.read_text()
    assert not any(a.full_name in text for a in people)
    assert visitor.get("/gelombang/9/undian/").status_code == 404


def test_a_participant_joins_from_the_registration_page_and_sees_the_outcome(people, make_user) -> None:
    wave = new_wave(1)
    eligible = [a for a in people if a.eligible]
    client = participant(eligible[0], make_user)
    assert 'data-testid="join-wave"' not in client.get("/pendaftaran/").content.decode()  # still a draft

    wave_open(wave=wave, actor="test")
    seed_commit(wave=wave, commitment=rules.commitment(SEED), actor="test")
    page = client.get("/pendaftaran/").content.decode()
    assert 'data-testid="join-wave"' in page and "Join wave 1" in page
    joined = client.post("/pendaftaran/gelombang/ikut/", {"wave": "1"}, follow=True).content.decode()
    assert "You joined wave 1." in joined and 'data-testid="join-wave"' not in joined
    assert "In the draw" in joined
    again = client.post("/pendaftaran/gelombang/ikut/", {"wave": "1"}, follow=True).content.decode()
    assert "You cannot join this wave: you have already joined this wave." in again
    assert Entry.objects.filter(applicant=eligible[0]).count() == 1

    # Someone excluded by another agency's list is told why joining fails.
    barred = participant(eligible[1], make_user)
    exclusion_list_extend(kind="student", source="test", indexes=[eligible[1].nik_index], actor="test")
    refused = barred.post("/pendaftaran/gelombang/ikut/", {"wave": "1"}, follow=True).content.decode()
    assert "You cannot join this wave: you are not eligible" in refused

    for applicant in eligible[2:]:
        wave_join(wave=wave, applicant=applicant)

    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    wave_announce(wave=wave, actor="test")
    entry = Entry.objects.get(applicant=eligible[0])
    page = client.get("/pendaftaran/").content.decode()
    if entry.status == EntryStatus.SELECTED:
        card = Card.objects.get(entry=entry)
        assert card.number in page and "Rp1.000.000" in page
        assert balance(card.account_code) == 1_000_000
    else:
        assert 'data-testid="waiting"' in page
    # Both outcomes are shown to the people they belong to.
    chosen = Entry.objects.filter(wave=wave, status=EntryStatus.SELECTED).select_related("card").first()
    waiting = Entry.objects.filter(wave=wave, status=EntryStatus.ENTERED).first()
    assert chosen is not None and waiting is not None
    lucky = participant(chosen.applicant, make_user).get("/pendaftaran/").content.decode()
    assert chosen.card.number in lucky and "Buy your first training before" in lucky
    assert "You have received the pre-employment card" in lucky and "You are not eligible" not in lucky
    unlucky = participant(waiting.applicant, make_user).get("/pendaftaran/").content.decode()
    assert 'data-testid="waiting"' in unlucky and chosen.card.number not in unlucky


def test_the_join_button_acts_only_for_the_logged_in_applicant(people, make_user) -> None:
    open_wave_with([])
    mine, other = [a for a in people if a.eligible][:2]
    client = participant(mine, make_user)
    participant(other, make_user)
    client.post("/pendaftaran/gelombang/ikut/", {"wave": "1", "applicant": str(other.pk)})
    assert list(Entry.objects.values_list("applicant_id", flat=True)) == [mine.pk]
    anonymous = Client().post("/pendaftaran/gelombang/ikut/", {"wave": "1"})
    assert anonymous.status_code == 302 and "/akun/masuk/" in anonymous["Location"]
    no_record = Client()
    no_record.force_login(make_user("participant"))
    assert no_record.post("/pendaftaran/gelombang/ikut/", {"wave": "1"}).status_code == 404


def test_the_policy_simulation_projects_recipients_and_budget(people, staff_client) -> None:
    analyst = staff_client("me_analyst")
    scheme = Scheme.objects.get(code="semi-bansos-2020")
    data = {"scheme": scheme.pk, "total_quota": "30", "quotas": "31 10\n32 20\n32.73 8\n32.04 12"}
    page = analyst.post("/pmo/gelombang/simulasi/", data).content.decode()
    pool = Applicant.objects.filter(eligible=True, regency_code="3273").count()
    recipients = min(8, pool) + min(12, Applicant.objects.filter(eligible=True, regency_code="3204").count())
    recipients += min(10, Applicant.objects.filter(eligible=True, province_code="31").count())
    assert f'data-testid="recipients">{recipients}<' in page
    assert f'data-testid="unfilled">{30 - recipients}<' in page
    assert "Rp" + f"{recipients * scheme.total_per_recipient:,}".replace(",", ".") in page
    assert "Rp" + f"{recipients * scheme.training_balance:,}".replace(",", ".") in page
    wrong = analyst.post("/pmo/gelombang/simulasi/", {**data, "total_quota": "40"}).content.decode()
    assert "The province quotas add up to 30, not to the total quota 40." in wrong
    assert 'id="result"' not in wrong
    assert not Wave.objects.exists()


def test_the_waiting_list_is_carried_over_and_the_participant_sees_both_waves(
    people, make_user, staff_client
) -> None:
    first = drawn_wave(people)
    waiting = Entry.objects.filter(wave=first, status=EntryStatus.ENTERED).select_related("applicant").first()
    assert waiting is not None
    second = new_wave(2, opens_at=first.closes_at, closes_at=first.closes_at + timedelta(days=3))
    wave_announce(wave=first, actor="test")
    wave_open(wave=second, actor="test")
    page = participant(waiting.applicant, make_user).get("/pendaftaran/").content.decode()
    assert 'data-testid="wave-entry-1"' in page and 'data-testid="wave-entry-2"' in page
    assert "Not selected, carried over to the next wave" in page
    assert 'data-testid="join-wave"' not in page  # already in wave 2's draw
    # The earlier wave's page still counts its waiting list among the entrants of its draw.
    detail = staff_client("auditor").get("/pmo/gelombang/1/").content.decode()
    assert f'data-testid="entries-total">{Entry.objects.filter(wave=first).count()}<' in detail
    assert Client().get("/pmo/gelombang/1/").status_code == 302
