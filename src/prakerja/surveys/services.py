"""Survey writes: instruments the PMO defines, each scheme's survey schedule, invitations after the first
completed training, their notification, and a participant's response.

A completed survey is an Invitation with `completed_at` set and a Response: the payments app pays the
scheme's survey incentive for exactly those."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, IntegerField, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from prakerja.core.audit import audit_record, rows_digest
from prakerja.core.errors import Conflict, InvalidInput, NotFound, invalid
from prakerja.core.models import Channel
from prakerja.core.notifications import notify
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.identity.rules import Problem
from prakerja.registry.models import Applicant
from prakerja.surveys import rules
from prakerja.surveys.models import Instrument, Invitation, Response, ScheduleItem
from prakerja.waves.models import CardStatus, Scheme

BATCH = 1000


class InstrumentInvalid(InvalidInput):
    code = "instrument_invalid"
    message = _("The survey cannot be saved: %(reasons)s")


class InstrumentInUse(Conflict):
    code = "instrument_in_use"
    message = _(
        "Participants have already answered this survey, so its questions can no longer change. "
        "Create a new survey instead and put it in the schedule."
    )


class ScheduleInvalid(InvalidInput):
    code = "schedule_invalid"
    message = _("The schedule cannot be saved: %(reasons)s")


class ScheduleInUse(Conflict):
    code = "schedule_in_use"
    message = _(
        "Participants of %(scheme)s have already been invited to its surveys, so its schedule can no "
        "longer change."
    )


class AnswersInvalid(InvalidInput):
    code = "answers_invalid"
    message = _("Some answers need attention: %(reasons)s")


class SurveyNotOpenYet(Conflict):
    code = "survey_not_open_yet"
    message = _("This survey opens on %(opens)s. Please come back then.")


class SurveyClosed(Conflict):
    code = "survey_closed"
    message = _("This survey closed on %(closes)s.")


class SurveyAlreadyFilled(Conflict):
    code = "survey_already_filled"
    message = _("You have already filled in this survey. Thank you!")


class InvitationUnknown(NotFound):
    code = "invitation_unknown"
    message = _("You have no such survey.")


# --- instruments ------------------------------------------------------------------------------------------


def _checked_instrument(*, code: str, title_id: str, title_en: str, questions: Any) -> list[dict[str, Any]]:
    problems = rules.instrument_problems(code=code, title_id=title_id, title_en=title_en, questions=questions)
    if problems:
        raise invalid(InstrumentInvalid, problems)
    return list(questions)


def instrument_create(
    *, actor: Any, code: str, title_id: str, title_en: str, questions: list[dict[str, Any]]
) -> Instrument:
    """A new questionnaire, its questions in Indonesian and English (see rules.instrument_problems)."""
    code, title_id, title_en = code.strip(), title_id.strip(), title_en.strip()
    questions = _checked_instrument(code=code, title_id=title_id, title_en=title_en, questions=questions)
    with transaction.atomic():
        if Instrument.objects.filter(code=code).exists():
            raise invalid(
                InstrumentInvalid, [Problem("code:taken", _("Another survey already has this code."))]
            )
        instrument = Instrument.objects.create(
            code=code,
            title_id=title_id,
            title_en=title_en,
            questions=questions,
            created_by=actor if hasattr(actor, "pk") else None,
        )
        audit_record(
            actor=actor, action="surveys.instrument_created", obj=instrument, after={"questions": questions}
        )
    return instrument


def instrument_update(
    *,
    actor: Any,
    instrument: Instrument,
    title_id: str,
    title_en: str,
    questions: list[dict[str, Any]],
    active: bool | None = None,
) -> Instrument:
    """Change an instrument's titles and questions, only while nobody has answered it."""
    title_id, title_en = title_id.strip(), title_en.strip()
    questions = _checked_instrument(
        code=instrument.code, title_id=title_id, title_en=title_en, questions=questions
    )
    with transaction.atomic():
        instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
        before = {
            "title_id": instrument.title_id,
            "title_en": instrument.title_en,
            "questions": instrument.questions,
        }
        changes_questions = (title_id, title_en, questions) != tuple(before.values())
        if changes_questions and Response.objects.filter(invitation__item__instrument=instrument).exists():
            raise InstrumentInUse()
        instrument.title_id, instrument.title_en, instrument.questions = title_id, title_en, questions
        if active is not None:
            instrument.active = active
        instrument.save()
        audit_record(
            actor=actor,
            action="surveys.instrument_updated",
            obj=instrument,
            before=before,
            after={
                "title_id": title_id,
                "title_en": title_en,
                "questions": questions,
                "active": instrument.active,
            },
        )
    return instrument


# --- schedules --------------------------------------------------------------------------------------------


def schedule_set(*, actor: Any, scheme: Scheme, items: Sequence[Mapping[str, Any]]) -> list[ScheduleItem]:
    """Replace a scheme's survey schedule: exactly `scheme.survey_count` items, in order, each
    {"instrument": Instrument or its code, "days_after_completion": int, "open_days": int (default 30)}.
    Refused once anyone of the scheme has been invited."""
    problems: list[Problem] = []
    if len(items) != scheme.survey_count:
        problems.append(
            Problem(
                "items:count",
                _("%(scheme)s pays for %(n)d surveys, so its schedule needs exactly %(n)d, not %(given)d."),
                {"scheme": scheme.name, "n": scheme.survey_count, "given": len(items)},
            )
        )
    rows: list[tuple[Instrument, int, int]] = []
    previous = -1
    for sequence, item in enumerate(items, start=1):
        instrument = item.get("instrument")
        if isinstance(instrument, str):
            instrument = Instrument.objects.filter(code=instrument).first()
        if not isinstance(instrument, Instrument) or not instrument.active:
            problems.append(
                Problem(
                    f"instrument_{sequence}:unknown",
                    _("Survey %(n)d: choose an active survey instrument."),
                    {"n": sequence},
                )
            )
        days, open_days = item.get("days_after_completion"), item.get("open_days", 30)
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
            problems.append(
                Problem(
                    f"days_{sequence}:invalid",
                    _("Survey %(n)d: the days after completion are a number from 0 to 3650."),
                    {"n": sequence},
                )
            )
        elif days <= previous:
            problems.append(
                Problem(
                    f"days_{sequence}:order",
                    _("Survey %(n)d: it must come later than the survey before it."),
                    {"n": sequence},
                )
            )
        else:
            previous = days
        if not isinstance(open_days, int) or isinstance(open_days, bool) or not 1 <= open_days <= 365:
            problems.append(
                Problem(
                    f"open_{sequence}:invalid",
                    _("Survey %(n)d: it stays open from 1 to 365 days."),
                    {"n": sequence},
                )
            )
        if isinstance(instrument, Instrument) and isinstance(days, int) and isinstance(open_days, int):
            rows.append((instrument, days, open_days))
    if problems:
        raise invalid(ScheduleInvalid, problems)
    with transaction.atomic():
        scheme = Scheme.objects.select_for_update().get(pk=scheme.pk)
        if Invitation.objects.filter(item__scheme=scheme).exists():
            raise ScheduleInUse(scheme=scheme.name)
        before = list(
            ScheduleItem.objects.filter(scheme=scheme).values(
                "sequence", "instrument__code", "days_after_completion", "open_days"
            )
        )
        ScheduleItem.objects.filter(scheme=scheme).delete()
        created = ScheduleItem.objects.bulk_create(
            ScheduleItem(scheme=scheme, sequence=n, instrument=i, days_after_completion=d, open_days=o)
            for n, (i, d, o) in enumerate(rows, start=1)
        )
        audit_record(
            actor=actor,
            action="surveys.schedule_set",
            obj=scheme,
            before={"items": before},
            after={
                "items": [
                    {"sequence": n, "instrument": i.code, "days": d, "open_days": o}
                    for n, (i, d, o) in enumerate(rows, start=1)
                ]
            },
        )
    return created


# --- invitations ------------------------------------------------------------------------------------------


def _first_completions() -> Any:
    """Per card of an active holder whose scheme has a schedule and who lacks some invitation: the card, its
    holder, its scheme and its first completed training."""
    invited = (
        Invitation.objects.filter(card=OuterRef("card_id"))
        .order_by()
        .values("card")
        .annotate(n=Count("pk"))
        .values("n")
    )
    planned = (
        ScheduleItem.objects.filter(scheme=OuterRef("card__entry__wave__scheme_id"))
        .order_by()
        .values("scheme")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Purchase.objects.filter(
            status=PurchaseStatus.COMPLETED, completed_at__isnull=False, card__status=CardStatus.ACTIVE
        )
        .order_by()
        .values("card_id", "card__applicant_id", "card__entry__wave__scheme_id")
        .annotate(
            first=Min("completed_at"),
            invited=Coalesce(Subquery(invited, output_field=IntegerField()), 0),
            planned=Coalesce(Subquery(planned, output_field=IntegerField()), 0),
        )
        .filter(planned__gt=0)
        .exclude(invited__gte=F("planned"))
    )


def invitations_create(*, now: datetime | None = None) -> int:
    """Invite every card holder to the surveys of their scheme's schedule, dated from their first completed
    training (opens on completion day + days after completion, open for the item's open days). Only the
    missing invitations are added: running it twice adds nothing. Returns how many were created."""
    now = now or timezone.now()
    schedules: dict[int, list[ScheduleItem]] = {}
    for item in ScheduleItem.objects.order_by("scheme_id", "sequence"):
        schedules.setdefault(item.scheme_id, []).append(item)
    created = 0
    batch: list[Invitation] = []

    def flush() -> int:
        if not batch:
            return 0
        with transaction.atomic():
            before = Invitation.objects.count()
            Invitation.objects.bulk_create(batch, ignore_conflicts=True)
            added = Invitation.objects.count() - before
            if added:
                audit_record(
                    actor="system:surveys",
                    action="surveys.invitations_created",
                    object_type="surveys.invitation",
                    after={
                        "count": added,
                        "digest": rows_digest((i.applicant_id, i.sequence, i.opens_on) for i in batch),
                    },
                )
        batch.clear()
        return added

    for row in _first_completions().iterator(chunk_size=BATCH):
        completed_on = timezone.localtime(row["first"]).date()
        for item in schedules.get(row["card__entry__wave__scheme_id"], []):
            opens_on = completed_on + timedelta(days=item.days_after_completion)
            batch.append(
                Invitation(
                    applicant_id=row["card__applicant_id"],
                    card_id=row["card_id"],
                    item=item,
                    sequence=item.sequence,
                    opens_on=opens_on,
                    closes_on=opens_on + timedelta(days=item.open_days),
                    created_at=now,
                )
            )
        if len(batch) >= BATCH:
            created += flush()
    created += flush()
    return created


def _local_date(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def _notify_applicant(applicant: Applicant, invitation: Invitation, url: str) -> bool:
    with translation.override("id"):
        subject = _t("Prakerja survey: your answers count")
        body = _t(
            "Hello %(name)s, survey %(n)d of the Prakerja programme, \u201c%(title)s\u201d, is open until "
            "%(closes)s. Fill it in at %(url)s. Completed surveys earn the survey incentive of your scheme."
        ) % {
            "name": applicant.full_name,
            "n": invitation.sequence,
            "title": invitation.item.instrument.title_id,
            "closes": _local_date(invitation.closes_on),
            "url": url,
        }
    if applicant.email:
        notify(channel=Channel.EMAIL, recipient=applicant.email, subject=subject, body=body)
    elif applicant.phone:
        notify(channel=Channel.SMS, recipient=applicant.phone, body=body)
    else:
        return False  # nowhere to send it: the survey still shows on the participant's page
    return True


def invitations_notify(*, today: date | None = None) -> int:
    """Tell each participant once that a survey is open (opened today or before, still open, not filled):
    one outbox message each, in Indonesian. Returns how many messages were written."""
    today = today or timezone.localdate()
    base = settings.PRAKERJA_PUBLIC_URL.rstrip("/")
    due = Invitation.objects.filter(
        opens_on__lte=today, closes_on__gte=today, notified_at__isnull=True, completed_at__isnull=True
    )
    sent = 0
    while True:
        with transaction.atomic():
            ids = list(due.order_by("pk").values_list("pk", flat=True)[:BATCH])
            if not ids:
                return sent
            invitations = (
                Invitation.objects.select_for_update(of=("self",))
                .filter(pk__in=ids, notified_at__isnull=True)
                .select_related("applicant", "item__instrument")
            )
            now = timezone.now()
            done = []
            for invitation in invitations:
                url = base + reverse("surveys:fill", args=[invitation.pk])
                sent += _notify_applicant(invitation.applicant, invitation, url)
                done.append(invitation.pk)
            # Marked even without a contact to send to, so nobody is looked at again every day.
            Invitation.objects.filter(pk__in=done).update(notified_at=now)


# --- responses --------------------------------------------------------------------------------------------


def response_submit(
    *, invitation: Invitation, applicant: Applicant, answers: Mapping[str, Any], now: datetime | None = None
) -> Response:
    """The participant's answers to their own open invitation, once; the invitation is then completed (and
    earns the scheme's survey incentive, which the payments app pays)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        # Only the invitation's row is locked: the instrument's row is shared by every respondent.
        locked = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("item__instrument")
            .filter(pk=invitation.pk, applicant=applicant)
            .first()
        )
        if locked is None:
            raise InvitationUnknown()
        invitation = locked
        if invitation.completed_at is not None:
            raise SurveyAlreadyFilled()
        if today < invitation.opens_on:
            raise SurveyNotOpenYet(opens=_local_date(invitation.opens_on))
        if today > invitation.closes_on:
            raise SurveyClosed(closes=_local_date(invitation.closes_on))
        questions = invitation.item.instrument.questions
        problems = rules.answer_problems(questions, answers)
        if problems:
            raise invalid(AnswersInvalid, problems)
        response = Response.objects.create(
            invitation=invitation, answers=rules.answers_clean(questions, answers), submitted_at=now
        )
        invitation.completed_at = now
        invitation.save(update_fields=["completed_at"])
        audit_record(
            actor=applicant.user or f"applicant:{applicant.pk}",
            action="surveys.response_submitted",
            obj=invitation,
            after={"instrument": invitation.item.instrument.code, "sequence": invitation.sequence},
        )
    return response


def answers_from(questions: Iterable[Mapping[str, Any]], data: Mapping[str, Any]) -> dict[str, Any]:
    """The answers among a submitted form's fields (one field per question code)."""
    return {q["code"]: data.get(q["code"], "") for q in questions}
