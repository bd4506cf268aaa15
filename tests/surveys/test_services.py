"""Invitations after the first completed training, their notification, responses, schedules, instruments and
the outcome counts, through the real services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from prakerja.core.errors import Conflict, InvalidInput, NotFound
from prakerja.core.models import OutboxMessage
from prakerja.surveys import selectors, services
from prakerja.surveys.models import Instrument, Invitation, Response, ScheduleItem
from prakerja.waves.models import Scheme

from .conftest import ANSWERS

pytestmark = pytest.mark.django_db


def test_the_seeded_schedules_match_what_each_scheme_pays_for() -> None:
    for scheme in Scheme.objects.all():
        items = list(ScheduleItem.objects.filter(scheme=scheme).order_by("sequence"))
        assert len(items) == scheme.survey_count
    days = list(
        ScheduleItem.objects.filter(scheme__code="semi-bansos-2020").values_list(
            "instrument__code", "days_after_completion"
        )
    )
    assert days == [("after-training", 0), ("after-incentive", 30), ("follow-up", 120)]


def test_invitations_follow_the_first_completion_and_a_second_run_adds_nothing(cards, finish, sell) -> None:
    first = finish(cards[0], days_ago=10)
    finish(cards[0], days_ago=2, training=sell(title_id="Akuntansi Dasar"))  # a later completion: ignored
    finish(cards[1], days_ago=0)
    assert services.invitations_create() == 6  # two holders, three surveys of semi-bansos-2020 each
    completed_on = timezone.localtime(first.completed_at).date()
    rows = list(
        Invitation.objects.filter(applicant=cards[0].applicant)
        .order_by("sequence")
        .values_list("sequence", "opens_on", "closes_on", "card_id", "item__instrument__code")
    )
    day = timedelta(days=1)
    assert rows == [
        (1, completed_on, completed_on + 30 * day, cards[0].pk, "after-training"),
        (2, completed_on + 30 * day, completed_on + 60 * day, cards[0].pk, "after-incentive"),
        (3, completed_on + 120 * day, completed_on + 150 * day, cards[0].pk, "follow-up"),
    ]
    assert services.invitations_create() == 0
    assert Invitation.objects.count() == 6
    assert not Invitation.objects.filter(applicant=cards[2].applicant).exists()  # no completed training


def test_a_missing_invitation_is_added_back_without_duplicating_the_others(cards, finish) -> None:
    finish(cards[0])
    services.invitations_create()
    Invitation.objects.filter(applicant=cards[0].applicant, sequence=2).delete()
    assert services.invitations_create() == 1
    assert sorted(Invitation.objects.values_list("sequence", flat=True)) == [1, 2, 3]


def test_a_scheme_without_surveys_invites_nobody(cards, finish) -> None:
    finish(cards[0])
    ScheduleItem.objects.filter(scheme=cards[0].entry.wave.scheme).delete()
    assert services.invitations_create() == 0


def test_notification_goes_once_to_opened_invitations_only(cards, finish) -> None:
    finish(cards[0])
    services.invitations_create()
    before = OutboxMessage.objects.count()
    assert services.invitations_notify() == 1  # only the after-training survey is open today
    message = OutboxMessage.objects.order_by("-pk").first()
    invitation = Invitation.objects.get(applicant=cards[0].applicant, sequence=1)
    assert f"/pendaftaran/survei/{invitation.pk}/" in message.body
    assert "Survei setelah pelatihan" in message.body  # Indonesian
    assert invitation.notified_at is not None
    assert services.invitations_notify() == 0
    assert OutboxMessage.objects.count() == before + 1
    later = timezone.localdate() + timedelta(days=30)
    assert services.invitations_notify(today=later) == 1  # the second survey opens then
    assert Invitation.objects.filter(notified_at__isnull=True).values_list("sequence", flat=True).get() == 3


def _open_invitation(card, finish) -> Invitation:
    finish(card)
    services.invitations_create()
    return Invitation.objects.get(applicant=card.applicant, sequence=1)


def test_a_response_is_validated_stored_and_completes_the_invitation(cards, finish) -> None:
    invitation = _open_invitation(cards[0], finish)
    applicant = cards[0].applicant
    with pytest.raises(InvalidInput) as missing:
        services.response_submit(
            invitation=invitation, applicant=applicant, answers={**ANSWERS, "employment": ""}
        )
    assert {p["field"]: p["code"] for p in missing.value.problems} == {"employment": "missing"}
    with pytest.raises(InvalidInput) as wrong:
        services.response_submit(
            invitation=invitation,
            applicant=applicant,
            answers={**ANSWERS, "income": "billions", "competence": "9"},
        )
    assert {p["field"]: p["code"] for p in wrong.value.problems} == {
        "income": "unknown_option",
        "competence": "out_of_scale",
    }
    assert not Response.objects.exists()
    response = services.response_submit(invitation=invitation, applicant=applicant, answers=ANSWERS)
    assert response.answers["competence"] == 4 and response.answers["employment"] == "working"
    assert "comment" not in response.answers  # an optional question left blank
    invitation.refresh_from_db()
    assert invitation.completed_at == response.submitted_at
    # The payments app pays the survey incentive for exactly these.
    assert list(Invitation.objects.filter(completed_at__isnull=False)) == [invitation]
    with pytest.raises(Conflict):
        services.response_submit(invitation=invitation, applicant=applicant, answers=ANSWERS)
    assert Response.objects.count() == 1


def test_only_the_invitations_own_applicant_may_answer(cards, finish) -> None:
    invitation = _open_invitation(cards[0], finish)
    with pytest.raises(NotFound):
        services.response_submit(invitation=invitation, applicant=cards[1].applicant, answers=ANSWERS)
    assert Invitation.objects.get(pk=invitation.pk).completed_at is None


def test_a_survey_is_answered_only_while_open(cards, finish) -> None:
    finish(cards[0])
    services.invitations_create()
    applicant = cards[0].applicant
    upcoming = Invitation.objects.get(applicant=applicant, sequence=2)
    with pytest.raises(Conflict) as early:
        services.response_submit(invitation=upcoming, applicant=applicant, answers=ANSWERS)
    assert early.value.code == "survey_not_open_yet"
    first = Invitation.objects.get(applicant=applicant, sequence=1)
    after_close = timezone.now() + timedelta(days=31)
    with pytest.raises(Conflict) as late:
        services.response_submit(invitation=first, applicant=applicant, answers=ANSWERS, now=after_close)
    assert late.value.code == "survey_closed"
    last_day = timezone.now() + timedelta(days=30)
    services.response_submit(invitation=first, applicant=applicant, answers=ANSWERS, now=last_day)
    assert not Response.objects.filter(invitation=upcoming).exists()


def test_a_schedule_needs_as_many_surveys_as_the_scheme_pays_for(make_user) -> None:
    officer = make_user("pmo_admin")
    scheme = Scheme.objects.get(code="normal-2022")
    with pytest.raises(InvalidInput) as wrong:
        services.schedule_set(
            actor=officer, scheme=scheme, items=[{"instrument": "after-training", "days_after_completion": 0}]
        )
    assert "2" in wrong.value.detail
    with pytest.raises(InvalidInput) as order:
        services.schedule_set(
            actor=officer,
            scheme=scheme,
            items=[
                {"instrument": "after-training", "days_after_completion": 60},
                {"instrument": "nope", "days_after_completion": 30},
            ],
        )
    assert {p["field"] for p in order.value.problems} == {"instrument_2", "days_2"}
    services.schedule_set(
        actor=officer,
        scheme=scheme,
        items=[
            {"instrument": "after-training", "days_after_completion": 7, "open_days": 14},
            {"instrument": "after-incentive", "days_after_completion": 60},
        ],
    )
    assert list(
        scheme.survey_schedule.values_list("instrument__code", "days_after_completion", "open_days")
    ) == [
        ("after-training", 7, 14),
        ("after-incentive", 60, 30),
    ]


def test_a_schedule_is_frozen_once_invitations_exist(cards, finish, make_user) -> None:
    finish(cards[0])
    services.invitations_create()
    scheme = cards[0].entry.wave.scheme
    items = [{"instrument": "follow-up", "days_after_completion": d} for d in (0, 10, 20)]
    with pytest.raises(Conflict):
        services.schedule_set(actor=make_user("pmo_admin"), scheme=scheme, items=items)
    assert ScheduleItem.objects.filter(scheme=scheme, instrument__code="follow-up").count() == 1


QUESTIONS = [
    {
        "code": "employment",
        "kind": "choice",
        "text_id": "Status kerja?",
        "text_en": "Work status?",
        "options": [
            {"value": "working", "label_id": "Bekerja", "label_en": "Working"},
            {"value": "looking", "label_id": "Mencari", "label_en": "Looking"},
        ],
    },
    {"code": "satisfaction", "kind": "scale", "text_id": "Puas?", "text_en": "Satisfied?"},
]


def test_an_instrument_changes_only_until_someone_answers_it(cards, finish, make_user) -> None:
    officer = make_user("pmo_admin")
    instrument = services.instrument_create(
        actor=officer, code="quick-check", title_id="Cek cepat", title_en="Quick check", questions=QUESTIONS
    )
    with pytest.raises(InvalidInput):
        services.instrument_create(
            actor=officer, code="quick-check", title_id="Lagi", title_en="Again", questions=QUESTIONS
        )
    services.instrument_update(
        actor=officer,
        instrument=instrument,
        title_id="Cek singkat",
        title_en="Short check",
        questions=QUESTIONS,
    )
    scheme = cards[0].entry.wave.scheme
    services.schedule_set(
        actor=officer,
        scheme=scheme,
        items=[{"instrument": "quick-check", "days_after_completion": d} for d in (0, 30, 60)],
    )
    invitation = _open_invitation(cards[0], finish)
    services.response_submit(
        invitation=invitation,
        applicant=cards[0].applicant,
        answers={"employment": "looking", "satisfaction": "3"},
    )
    with pytest.raises(Conflict) as in_use:
        services.instrument_update(
            actor=officer, instrument=instrument, title_id="Baru", title_en="New", questions=QUESTIONS[:1]
        )
    assert in_use.value.code == "instrument_in_use"
    assert Instrument.objects.get(pk=instrument.pk).questions == QUESTIONS


def test_outcomes_count_each_previously_unemployed_respondents_latest_answer(cards, finish) -> None:
    for card in cards[:5]:
        finish(card, days_ago=40)
    services.invitations_create()
    status = ["unemployed", "laid_off", "unemployed", "unemployed", "worker"]
    for card, registered_as in zip(cards[:5], status, strict=True):
        type(card.applicant).objects.filter(pk=card.applicant_id).update(employment_status=registered_as)

    def answer(card, sequence: int, employment: str, competence: int, satisfaction: int) -> None:
        invitation = Invitation.objects.get(applicant=card.applicant, sequence=sequence)
        when = (
            timezone.now() - timedelta(days=40 - invitation.item.days_after_completion) + timedelta(hours=1)
        )
        services.response_submit(
            invitation=invitation,
            applicant=card.applicant,
            answers={
                **ANSWERS,
                "employment": employment,
                "competence": competence,
                "satisfaction": satisfaction,
            }
            if sequence == 1
            else {
                "employment": employment,
                "income": "none",
                "incentive_use": "savings",
                "competence": competence,
                "satisfaction": satisfaction,
            },
            now=when,
        )

    answer(cards[0], 1, "looking", 2, 3)
    answer(cards[0], 2, "working", 5, 5)  # the latest answer counts: now working
    answer(cards[1], 1, "business", 4, 4)
    answer(cards[2], 1, "looking", 3, 2)
    answer(cards[4], 1, "working", 1, 1)  # registered as a worker: not in the employment shares
    # cards[3] never answered
    result = selectors.outcomes()
    assert result.respondents == 4
    assert (result.previously_without_work, result.working, result.business, result.without_work) == (
        3,
        1,
        1,
        1,
    )
    assert result.working_share == 33.3 and result.business_share == 33.3
    assert result.working_or_business_share == 66.7
    assert (result.competence_better, result.competence_answers) == (2, 4)  # 5, 4 of 5, 4, 3, 1
    assert result.satisfaction_average == 3.0  # (5 + 4 + 2 + 1) / 4
    assert dict((code, n) for code, _, n in result.per_instrument) == {
        "after-training": 4,
        "after-incentive": 1,
    }
    other_wave = selectors.outcomes(scheme=Scheme.objects.get(code="normal-2022"))
    assert other_wave.respondents == 0 and other_wave.working_share is None
    assert selectors.outcomes(wave=cards[0].entry.wave).respondents == 4


def test_the_participants_list_gives_each_invitation_its_state(cards, finish) -> None:
    invitation = _open_invitation(cards[0], finish)
    rows = selectors.invitations_for(cards[0].applicant)
    assert [r.status for r in rows] == ["open", "upcoming", "upcoming"]
    Invitation.objects.filter(pk=invitation.pk).update(closes_on=timezone.localdate() - timedelta(days=1))
    assert selectors.invitations_for(cards[0].applicant)[0].status == "closed"


def test_the_daily_command_invites_then_notifies(cards, finish) -> None:
    from io import StringIO

    from django.core.management import call_command

    finish(cards[0])
    out = StringIO()
    call_command("surveys", "invite", stdout=out)
    assert "3 survey invitations created; 1 participants notified." in out.getvalue()
    call_command("surveys", "invite", stdout=out)
    assert "0 survey invitations created; 0 participants notified." in out.getvalue()
