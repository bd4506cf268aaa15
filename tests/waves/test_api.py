"""Waves over the JSON API: the public record, joining as the logged-in participant, and one's own outcome."""

import pytest
from django.test import Client

from prakerja.registry.models import Applicant
from prakerja.waves.models import Card, Entry, EntryStatus
from prakerja.waves.services import wave_announce, wave_close, wave_join, wave_select
from tests.waves.helpers import QUOTAS, SEED, new_wave, open_wave_with, participant, population

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> list[Applicant]:
    return population(120)


def test_the_public_list_and_detail_show_no_draft_and_the_seed_only_after_the_draw(people) -> None:
    anyone = Client()
    draft = new_wave(1)
    assert anyone.get("/api/v1/waves").json() == []
    assert anyone.get("/api/v1/waves/1").status_code == 404
    assert anyone.get("/api/v1/waves/1").headers["Content-Type"] == "application/problem+json"
    draft.delete()
    wave = open_wave_with(people[:10])
    listed = anyone.get("/api/v1/waves").json()
    assert [(w["number"], w["status"], w["total_quota"]) for w in listed] == [(1, "open", 30)]
    assert listed[0]["seed_commitment"] == wave.seed_commitment and listed[0]["seed"] is None
    detail = anyone.get("/api/v1/waves/1").json()
    assert {q["region_code"]: q["places"] for q in detail["quotas"]} == QUOTAS
    assert next(q["name"] for q in detail["quotas"] if q["region_code"] == "3273").upper() == "KOTA BANDUNG"
    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    assert anyone.get("/api/v1/waves/1").json()["seed"] == SEED
    assert anyone.get("/api/v1/waves/2").status_code == 404
    assert "/api/v1/waves/{number}/join" in anyone.get("/api/v1/openapi.json").json()["paths"]


def test_a_participant_joins_over_the_api_and_sees_only_their_own_entries(people, make_user) -> None:
    wave = open_wave_with([])
    mine, theirs = [a for a in people if a.eligible][:2]
    client, other = participant(mine, make_user), participant(theirs, make_user)
    assert Client().post("/api/v1/waves/1/join").status_code == 401
    assert Client().get("/api/v1/waves/me").status_code == 401
    joined = client.post("/api/v1/waves/1/join")
    assert joined.status_code == 201, joined.content
    assert joined.json()["status"] == EntryStatus.ENTERED and joined.json()["card_number"] is None
    again = client.post("/api/v1/waves/1/join")
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    assert again.json()["type"] == "urn:prakerja:problem:not_joinable"
    assert "already joined" in again.json()["detail"]
    assert [e["wave"] for e in client.get("/api/v1/waves/me").json()] == [1]
    assert other.get("/api/v1/waves/me").json() == []  # nobody sees another's entries

    stranger = Client()
    stranger.force_login(make_user("participant"))
    not_registered = stranger.post("/api/v1/waves/1/join")
    assert not_registered.status_code == 404 and not_registered.json()["type"].endswith(":not_registered")

    for applicant in people:
        if applicant.eligible and applicant.pk != mine.pk:
            wave_join(wave=wave, applicant=applicant)
    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    wave_announce(wave=wave, actor="test")
    for applicant, browser in ((mine, client), (theirs, other)):
        (entry,) = browser.get("/api/v1/waves/me").json()
        stored = Entry.objects.get(applicant=applicant)
        assert entry["status"] == stored.status
        card = Card.objects.filter(applicant=applicant).first()
        assert entry["card_number"] == (card.number if card else None)
    chosen = Card.objects.select_related("applicant").first()
    waiting = Entry.objects.filter(wave=wave, status=EntryStatus.ENTERED).select_related("applicant").first()
    assert chosen is not None and waiting is not None
    (selected,) = participant(chosen.applicant, make_user).get("/api/v1/waves/me").json()
    assert (selected["status"], selected["card_number"]) == ("selected", chosen.number)
    assert selected["purchase_deadline"] is not None
    (left,) = participant(waiting.applicant, make_user).get("/api/v1/waves/me").json()
    assert (left["status"], left["card_number"]) == ("entered", None)


def test_joining_a_draft_or_closed_wave_is_refused(people, make_user) -> None:
    draft = new_wave(1)
    client = participant(next(a for a in people if a.eligible), make_user)
    refused = client.post("/api/v1/waves/1/join")
    assert refused.status_code == 404 and refused.json()["type"].endswith(
        ":not_found"
    )  # drafts are not public
    draft.delete()
    wave = open_wave_with([])
    wave_close(wave=wave, actor="test")
    closed = client.post("/api/v1/waves/1/join", HTTP_ACCEPT_LANGUAGE="en")
    assert closed.status_code == 409
    assert closed.json()["detail"] == "You cannot join this wave: the wave is not open for joining."
    assert not Entry.objects.exists()
