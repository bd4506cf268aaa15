"""The participant's survey pages and the programme office's survey and outcome pages."""

import json

import pytest
from django.test import Client

from prakerja.surveys import services
from prakerja.surveys.models import Instrument, Invitation, Response
from tests.waves.helpers import participant

from .conftest import ANSWERS
from .test_services import QUESTIONS

pytestmark = pytest.mark.django_db


def invited(card, finish) -> Invitation:
    finish(card)
    services.invitations_create()
    return Invitation.objects.get(applicant=card.applicant, sequence=1)


def test_a_participant_fills_in_an_open_survey_through_the_form(cards, finish, make_user) -> None:
    invitation = invited(cards[0], finish)
    client = participant(cards[0].applicant, make_user, language="id")
    registration = client.get("/pendaftaran/").content.decode()
    assert 'data-testid="my-surveys"' in registration
    listing = client.get("/pendaftaran/survei/").content.decode()
    assert f'href="/pendaftaran/survei/{invitation.pk}/"' in listing
    assert "Survei setelah pelatihan" in listing  # the Indonesian title on an Indonesian page
    form = client.get(f"/pendaftaran/survei/{invitation.pk}/").content.decode()
    assert 'type="radio" name="employment" value="business"' in form
    assert 'type="radio" name="competence" value="5"' in form
    assert '<textarea name="comment"' in form
    assert "Apa status pekerjaan Anda saat ini?" in form

    missing = client.post(f"/pendaftaran/survei/{invitation.pk}/", {**ANSWERS, "employment": ""})
    assert missing.status_code == 200
    page = missing.content.decode()
    fieldset = page[page.index('data-question="employment"') : page.index('data-question="income"')]
    assert 'role="alert"' in fieldset  # the error is next to its question
    assert not Response.objects.exists()

    done = client.post(f"/pendaftaran/survei/{invitation.pk}/", {**ANSWERS, "comment": "Bermanfaat"})
    assert done.status_code == 302 and done["Location"] == "/pendaftaran/survei/"
    response = Response.objects.get(invitation=invitation)
    assert response.answers["comment"] == "Bermanfaat" and response.answers["satisfaction"] == 5
    after = client.get("/pendaftaran/survei/").content.decode()
    assert 'data-status="completed"' in after
    again = client.post(f"/pendaftaran/survei/{invitation.pk}/", ANSWERS)
    assert again.status_code == 200 and Response.objects.count() == 1


def test_someone_elses_survey_is_not_found(cards, finish, make_user) -> None:
    theirs = invited(cards[1], finish)
    client = participant(cards[0].applicant, make_user)
    assert client.get(f"/pendaftaran/survei/{theirs.pk}/").status_code == 404
    assert client.post(f"/pendaftaran/survei/{theirs.pk}/", ANSWERS).status_code == 404
    assert f"/pendaftaran/survei/{theirs.pk}/" not in client.get("/pendaftaran/survei/").content.decode()
    assert not Response.objects.exists()
    assert Client().get("/pendaftaran/survei/").status_code == 302  # log in first


def test_the_pmo_pages_are_for_the_programme_office(cards, make_user, staff_client) -> None:
    client = participant(cards[0].applicant, make_user)
    for url in ("/pmo/survei/", "/pmo/survei/hasil/", "/pmo/survei/instrumen/baru/"):
        assert client.get(url).status_code == 403
    assert staff_client("selection_officer").get("/pmo/survei/hasil/").status_code == 403
    analyst = staff_client("me_analyst")
    page = analyst.get("/pmo/survei/").content.decode()
    assert 'data-testid="instrument-after-training"' in page and 'data-testid="schedule-normal-2022"' in page
    assert "/pmo/survei/" in analyst.get("/pmo/").content.decode()
    auditor = staff_client("auditor")
    assert auditor.get("/pmo/survei/").status_code == 200
    assert auditor.get("/pmo/survei/instrumen/baru/").status_code == 403  # reads, never changes


def test_the_pmo_creates_an_instrument_from_json_with_errors_shown(make_user, staff_client) -> None:
    client = staff_client("pmo_admin")
    fields = {"code": "quick-check", "title_id": "Cek cepat", "title_en": "Quick check", "active": "on"}
    bad_json = client.post("/pmo/survei/instrumen/baru/", {**fields, "questions": "[{"})
    assert bad_json.status_code == 200 and "not valid JSON" in bad_json.content.decode()
    no_options = [{**QUESTIONS[0], "options": []}]
    refused = client.post("/pmo/survei/instrumen/baru/", {**fields, "questions": json.dumps(no_options)})
    assert "a choice needs at least two options" in refused.content.decode()
    assert not Instrument.objects.filter(code="quick-check").exists()
    created = client.post("/pmo/survei/instrumen/baru/", {**fields, "questions": json.dumps(QUESTIONS)})
    assert created.status_code == 302
    assert Instrument.objects.get(code="quick-check").questions == QUESTIONS


def test_the_pmo_sets_a_schedule_through_the_form(staff_client) -> None:
    client = staff_client("me_analyst")
    url = "/pmo/survei/jadwal/normal-2022/"
    rows = {"instrument_1": "after-training", "days_1": "0", "open_1": "30", "instrument_2": "follow-up"}
    refused = client.post(url, {**rows, "days_2": "0", "open_2": "30"})
    assert refused.status_code == 200 and "later than the survey before it" in refused.content.decode()
    saved = client.post(url, {**rows, "days_2": "180", "open_2": "45"})
    assert saved.status_code == 302
    page = client.get("/pmo/survei/").content.decode()
    schedule = page[page.index('data-testid="schedule-normal-2022"') :]
    assert "<td>180</td><td>45</td>" in schedule


def test_the_outcome_page_shows_the_shares_per_wave(cards, finish, staff_client) -> None:
    invitation = invited(cards[0], finish)
    type(cards[0].applicant).objects.filter(pk=cards[0].applicant_id).update(employment_status="unemployed")
    services.response_submit(invitation=invitation, applicant=cards[0].applicant, answers=ANSWERS)
    client = staff_client("me_analyst")
    page = client.get("/pmo/survei/hasil/").content.decode()
    working = page[page.index('data-testid="working"') :]
    assert "100.0%" in working[: working.index("</tr>")]
    wave = cards[0].entry.wave.number
    assert "100.0%" in client.get(f"/pmo/survei/hasil/?gelombang={wave}").content.decode()
    other = client.get("/pmo/survei/hasil/?skema=normal-2022").content.decode()
    assert "100.0%" not in other
