"""Survey reads: a participant's invitations with their state, the instruments and schedules for the PMO, and
the outcomes of the programme from the survey answers."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import get_language

from prakerja.registry.models import Applicant, EmploymentStatus
from prakerja.surveys import rules
from prakerja.surveys.models import Instrument, Invitation, Response, ScheduleItem
from prakerja.waves.models import Scheme, Wave

WITHOUT_WORK_BEFORE = (EmploymentStatus.UNEMPLOYED, EmploymentStatus.LAID_OFF)


def in_language(indonesian: str, english: str) -> str:
    """The Indonesian text on Indonesian pages, the English one otherwise."""
    return english if (get_language() or "id").startswith("en") else indonesian


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    title: str
    status: str  # rules.UPCOMING / OPEN / CLOSED / COMPLETED


def invitations_for(applicant: Applicant, *, today: date | None = None) -> list[InvitationRow]:
    """The participant's survey invitations in order, each with its title and state on `today`."""
    today = today or timezone.localdate()
    invitations = (
        Invitation.objects.filter(applicant=applicant).select_related("item__instrument").order_by("sequence")
    )
    return [
        InvitationRow(
            invitation=i,
            title=in_language(i.item.instrument.title_id, i.item.instrument.title_en),
            status=rules.invitation_state(
                opens_on=i.opens_on, closes_on=i.closes_on, completed=i.completed_at is not None, today=today
            ),
        )
        for i in invitations
    ]


def own_invitations(applicant: Applicant) -> QuerySet[Invitation]:
    return Invitation.objects.filter(applicant=applicant)


def responses_per_instrument() -> dict[int, int]:
    return dict(
        Response.objects.order_by()
        .values_list("invitation__item__instrument_id")
        .annotate(n=Count("pk"))
        .values_list("invitation__item__instrument_id", "n")
    )


def instruments() -> list[tuple[Instrument, int]]:
    """Every instrument (active first) with how many responses it has."""
    counts = responses_per_instrument()
    return [(i, counts.get(i.pk, 0)) for i in Instrument.objects.order_by("-active", "code")]


@dataclass(frozen=True)
class SchemeSchedule:
    scheme: Scheme
    items: list[ScheduleItem]
    invited: int
    completed: int


def schedules() -> list[SchemeSchedule]:
    """Each scheme with its survey schedule and how many invitations it has sent and seen completed."""
    items: dict[int, list[ScheduleItem]] = {}
    for item in ScheduleItem.objects.select_related("instrument").order_by("scheme_id", "sequence"):
        items.setdefault(item.scheme_id, []).append(item)
    counts = dict(
        Invitation.objects.order_by()
        .values_list("item__scheme_id")
        .annotate(n=Count("pk"))
        .values_list("item__scheme_id", "n")
    )
    done = dict(
        Invitation.objects.filter(completed_at__isnull=False)
        .order_by()
        .values_list("item__scheme_id")
        .annotate(n=Count("pk"))
        .values_list("item__scheme_id", "n")
    )
    return [
        SchemeSchedule(
            scheme=s, items=items.get(s.pk, []), invited=counts.get(s.pk, 0), completed=done.get(s.pk, 0)
        )
        for s in Scheme.objects.order_by("code")
    ]


@dataclass
class Outcomes:
    """What the survey answers say (each respondent's latest response counts once).

    Employment shares are among respondents who registered as unemployed or laid off and answered the
    employment question; competence and satisfaction are among every respondent who answered them."""

    respondents: int = 0
    previously_without_work: int = 0
    working: int = 0
    business: int = 0
    without_work: int = 0
    competence_answers: int = 0
    competence_better: int = 0
    satisfaction_answers: int = 0
    satisfaction_total: int = 0
    per_instrument: list[tuple[str, str, int]] = field(default_factory=list)  # code, title, responses

    @property
    def working_share(self) -> float | None:
        return rules.share(self.working, self.previously_without_work)

    @property
    def business_share(self) -> float | None:
        return rules.share(self.business, self.previously_without_work)

    @property
    def working_or_business_share(self) -> float | None:
        return rules.share(self.working + self.business, self.previously_without_work)

    @property
    def without_work_share(self) -> float | None:
        return rules.share(self.without_work, self.previously_without_work)

    @property
    def competence_better_share(self) -> float | None:
        return rules.share(self.competence_better, self.competence_answers)

    @property
    def satisfaction_average(self) -> float | None:
        if not self.satisfaction_answers:
            return None
        return round(self.satisfaction_total / self.satisfaction_answers, 2)


def _responses(*, wave: Wave | None, scheme: Scheme | None) -> QuerySet[Response]:
    responses = Response.objects.all()
    if wave is not None:
        responses = responses.filter(invitation__card__entry__wave=wave)
    if scheme is not None:
        responses = responses.filter(invitation__item__scheme=scheme)
    return responses


def outcomes(*, wave: Wave | None = None, scheme: Scheme | None = None) -> Outcomes:
    """The outcome page's counts, from each respondent's latest response (of the wave or scheme given).

    The answers are JSON; only the four keys are read, with Django's key transforms (the same on SQLite
    and PostgreSQL), and the counting is done here over an iterator, one respondent at a time."""
    result = Outcomes()
    rows = (
        _responses(wave=wave, scheme=scheme)
        .order_by("invitation__applicant_id", "-submitted_at", "-pk")
        .values_list(
            "invitation__applicant_id",
            "invitation__applicant__employment_status",
            f"answers__{rules.EMPLOYMENT}",
            f"answers__{rules.COMPETENCE}",
            f"answers__{rules.SATISFACTION}",
        )
    )
    last = None
    for applicant_id, registered_as, employment, competence, satisfaction in rows.iterator(chunk_size=2000):
        if applicant_id == last:
            continue  # an older response of the same respondent
        last = applicant_id
        result.respondents += 1
        if registered_as in WITHOUT_WORK_BEFORE and employment is not None:
            result.previously_without_work += 1
            if employment == rules.WORKING:
                result.working += 1
            elif employment == rules.BUSINESS:
                result.business += 1
            else:
                result.without_work += 1
        if isinstance(competence, int) and not isinstance(competence, bool):
            result.competence_answers += 1
            result.competence_better += competence >= rules.BETTER_COMPETENCE
        if isinstance(satisfaction, int) and not isinstance(satisfaction, bool):
            result.satisfaction_answers += 1
            result.satisfaction_total += satisfaction
    per_instrument: Counter[int] = Counter(
        dict(
            _responses(wave=wave, scheme=scheme)
            .order_by()
            .values_list("invitation__item__instrument_id")
            .annotate(n=Count("pk"))
            .values_list("invitation__item__instrument_id", "n")
        )
    )
    result.per_instrument = [
        (i.code, in_language(i.title_id, i.title_en), per_instrument[i.pk])
        for i in Instrument.objects.filter(pk__in=list(per_instrument)).order_by("code")
    ]
    return result


def waves() -> QuerySet[Wave]:
    return Wave.objects.order_by("-number")


def answers_shown(invitation: Invitation) -> list[tuple[str, Any]]:
    """A completed invitation's answers, each next to its question in the page's language."""
    response = getattr(invitation, "response", None)
    if response is None:
        return []
    shown = []
    for q in invitation.item.instrument.questions:
        value = response.answers.get(q["code"])
        if value is None:
            continue
        if q["kind"] == rules.CHOICE:
            value = next(
                (in_language(o["label_id"], o["label_en"]) for o in q["options"] if o["value"] == value),
                value,
            )
        shown.append((in_language(q["text_id"], q["text_en"]), value))
    return shown
