from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.registry import rules
from prakerja.registry.models import AptitudeAttempt
from prakerja.registry.selectors import aptitude_bank
from prakerja.registry.services import (
    AptitudeTaken,
    AptitudeTimeUp,
    applicant_register,
    aptitude_answer,
    aptitude_finish,
    aptitude_start,
)
from tests.registry.test_registration import CONSENTS, PROFILE, _verified

pytestmark = pytest.mark.django_db


def test_the_bank_is_large_enough_and_well_formed() -> None:
    bank = aptitude_bank()
    counts = Counter(q["category"] for q in bank["questions"])
    assert len(bank["questions"]) >= 60
    assert sum(bank["draw"].values()) == 18
    for category, drawn in bank["draw"].items():
        assert counts[category] >= drawn
    for question in bank["questions"]:
        points = sorted(c["points"] for c in question["choices"])
        assert points == ([0, 1, 2, 3] if question["category"] == "motivasi" else [0, 0, 0, 1]), question[
            "id"
        ]


def test_each_applicant_gets_the_drawn_share_of_every_category_in_their_own_order() -> None:
    bank = aptitude_bank()
    by_id = {q["id"]: q["category"] for q in bank["questions"]}
    first, second = rules.aptitude_draw(bank, seed=1), rules.aptitude_draw(bank, seed=2)
    assert Counter(by_id[q] for q in first) == Counter(bank["draw"])
    assert len(set(first)) == 18
    assert first != second
    assert rules.aptitude_draw(bank, seed=1) == first


def test_scoring_counts_points_per_category() -> None:
    bank = aptitude_bank()
    ids = rules.aptitude_draw(bank, seed=5)
    by_id = {q["id"]: q for q in bank["questions"]}
    best = {qid: max(range(4), key=lambda i, q=by_id[qid]: q["choices"][i]["points"]) for qid in ids}
    full = rules.aptitude_score(bank, ids, best)
    assert full["score"] == full["max"] == 15 + 3 * 3
    assert rules.aptitude_score(bank, ids, {})["score"] == 0
    assert full["categories"]["motivasi"] == {"score": 9, "max": 9}


@pytest.fixture
def applicant():
    return applicant_register(user=_verified(), data=PROFILE, consents=CONSENTS)


def test_the_test_is_taken_once_and_the_timer_is_kept_by_the_server(applicant) -> None:
    attempt = aptitude_start(applicant=applicant)
    assert aptitude_start(applicant=applicant).pk == attempt.pk  # resuming, not restarting
    assert attempt.deadline - attempt.started_at == timedelta(minutes=25)
    first = attempt.question_ids[0]
    aptitude_answer(attempt=attempt, question_id=first, choice=2)
    AptitudeAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    attempt.refresh_from_db()
    with pytest.raises(AptitudeTimeUp):
        aptitude_answer(attempt=attempt, question_id=attempt.question_ids[1], choice=0)
    attempt.refresh_from_db()
    assert attempt.finished_at is not None and attempt.answers == {first: 2}
    with pytest.raises(AptitudeTaken):
        aptitude_start(applicant=applicant)
    assert aptitude_finish(attempt=attempt).score == attempt.score


def test_the_pages_save_answers_and_show_the_result(applicant) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(applicant.user)
    assert b"Start the test" in client.get("/tes/").content
    assert client.post("/tes/")["Location"] == "/tes/soal/"
    attempt = AptitudeAttempt.objects.get(applicant=applicant)
    page = client.get("/tes/soal/").content.decode()
    assert all(qid in page for qid in attempt.question_ids)
    assert client.post("/tes/jawab/", {"question": attempt.question_ids[0], "choice": "1"}).status_code == 204
    assert client.post("/tes/jawab/", {"question": "not-a-question", "choice": "1"}).status_code == 422
    client.post("/tes/selesai/", {attempt.question_ids[1]: "3"})
    attempt.refresh_from_db()
    assert attempt.answers == {attempt.question_ids[0]: 1, attempt.question_ids[1]: 3}
    result = client.get("/tes/").content.decode()
    assert f"{attempt.score} of {attempt.max_score} points" in result
    assert client.get("/tes/soal/")["Location"] == "/tes/"
    assert client.post("/tes/").status_code == 409
