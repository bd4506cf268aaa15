"""Catalogue writes: trainings and their sessions by institutions, curation by the programme office,
listings by platforms, and participants' ratings and reviews with their moderation."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prakerja.catalog import rules
from prakerja.catalog.models import (
    Curation,
    CurationOutcome,
    Level,
    Listing,
    ListingStatus,
    Mode,
    Review,
    ReviewStatus,
    Sector,
    Session,
    Training,
    TrainingStatus,
)
from prakerja.core.audit import audit_record
from prakerja.core.errors import Conflict, Forbidden, InvalidInput, Reasons, invalid, problem_dicts
from prakerja.core.money import format_rupiah
from prakerja.identity.rules import Problem
from prakerja.partners.models import Kind, Partner
from prakerja.partners.selectors import IN_GOOD_STANDING, listing_problem, partner_of
from prakerja.regions.models import Level as RegionLevel
from prakerja.regions.models import Region
from prakerja.registry.models import Applicant

EDITABLE = (TrainingStatus.DRAFT, TrainingStatus.CHANGES_REQUESTED)
# Which state each curation outcome starts from and leads to.
TRANSITIONS = {
    CurationOutcome.APPROVE: ((TrainingStatus.SUBMITTED,), TrainingStatus.APPROVED),
    CurationOutcome.CHANGES: ((TrainingStatus.SUBMITTED,), TrainingStatus.CHANGES_REQUESTED),
    CurationOutcome.REJECT: ((TrainingStatus.SUBMITTED,), TrainingStatus.REJECTED),
    CurationOutcome.SUSPEND: ((TrainingStatus.APPROVED,), TrainingStatus.SUSPENDED),
    CurationOutcome.REINSTATE: ((TrainingStatus.SUSPENDED,), TrainingStatus.APPROVED),
}
REVIEWABLE = (TrainingStatus.APPROVED, TrainingStatus.SUSPENDED)
TRAINING_FIELDS = (
    "title_id",
    "title_en",
    "description_id",
    "description_en",
    "skills",
    "sector",
    "level",
    "mode",
    "hours",
    "price",
)


class TrainingInvalid(InvalidInput):
    code = "training_invalid"
    message = _("The training cannot be saved: %(reasons)s")


class SessionInvalid(InvalidInput):
    code = "session_invalid"
    message = _("The session cannot be saved: %(reasons)s")


class CurationInvalid(InvalidInput):
    code = "curation_invalid"
    message = _("The decision cannot be recorded: %(reasons)s")


class ReviewInvalid(InvalidInput):
    code = "review_invalid"
    message = _("The review cannot be saved: %(reasons)s")


class NotInstitutionMember(Forbidden):
    code = "not_institution_member"
    message = _("Only staff of this training institution, while it is in good standing, may do this.")


class TrainingNotEditable(Conflict):
    code = "training_not_editable"
    message = _("Only a draft or a training sent back for changes can be changed; this one is %(status)s.")


class CurationWrongState(Conflict):
    code = "curation_wrong_state"
    message = _("A training that is %(status)s cannot be given the outcome “%(outcome)s”.")


class ListingRefused(Conflict):
    code = "listing_refused"
    message = _("The training cannot be listed: %(reasons)s")

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(reasons=Reasons(problems))
        self.problems = problem_dicts(problems)


class ListingNotActive(Conflict):
    code = "listing_not_active"
    message = _("This listing is already withdrawn.")


class ReviewExists(Conflict):
    code = "review_exists"
    message = _("You have already rated this training.")


# --- trainings ----------------------------------------------------------------------------------------


def _institution_of(
    actor: Any, training: Training | None = None, institution: Partner | None = None
) -> Partner:
    """The institution acting, in good standing: a user must be its staff (and the training's, when one is
    given); a system actor (an import, the demo) names the institution or acts on the training's own."""
    if hasattr(actor, "pk"):
        partner = partner_of(actor)
    else:
        partner = institution or (training.institution if training is not None else None)
    if (
        partner is None
        or partner.kind != Kind.INSTITUTION
        or partner.status not in IN_GOOD_STANDING
        or (training is not None and training.institution_id != partner.pk)
    ):
        raise NotInstitutionMember()
    return partner


def _draft(data: Mapping[str, Any]) -> rules.TrainingDraft:
    """The submitted fields, cleaned: titles and competencies as plain text, descriptions as safe HTML."""
    skills = data.get("skills") or []
    if isinstance(skills, str):
        skills = skills.splitlines()

    def number(key: str) -> int:
        value = data.get(key)
        try:
            return int(value) if value is not None and not isinstance(value, bool) else 0
        except (TypeError, ValueError):
            return 0

    return rules.TrainingDraft(
        title_id=rules.plain(str(data.get("title_id") or "")),
        title_en=rules.plain(str(data.get("title_en") or "")),
        description_id=rules.sanitise(str(data.get("description_id") or "")),
        description_en=rules.sanitise(str(data.get("description_en") or "")),
        skills=tuple(dict.fromkeys(s for s in (rules.plain(str(x)) for x in skills) if s)),
        sector=str(data.get("sector") or ""),
        level=str(data.get("level") or ""),
        mode=str(data.get("mode") or ""),
        hours=number("hours"),
        price=number("price"),
    )


def _checked(data: Mapping[str, Any]) -> rules.TrainingDraft:
    draft = _draft(data)
    problems = rules.training_problems(
        draft,
        price_max=settings.PRAKERJA_TRAINING_PRICE_MAX,
        sectors=Sector.values,
        levels=Level.values,
        modes=Mode.values,
    )
    if problems:
        raise invalid(TrainingInvalid, problems)
    return draft


def _apply(training: Training, draft: rules.TrainingDraft, institution: Partner) -> None:
    for field in TRAINING_FIELDS:
        value = getattr(draft, field)
        setattr(training, field, list(value) if field == "skills" else value)
    training.search_text = rules.search_text(
        titles=(draft.title_id, draft.title_en),
        descriptions=(draft.description_id, draft.description_en),
        skills=draft.skills,
        institution=institution.name,
    )


def _snapshot(training: Training) -> dict[str, Any]:
    return {field: getattr(training, field) for field in (*TRAINING_FIELDS, "status")}


def training_create(*, actor: Any, data: Mapping[str, Any], institution: Partner | None = None) -> Training:
    """A draft training of the actor's institution (a system actor names the institution)."""
    institution = _institution_of(actor, institution=institution)
    draft = _checked(data)
    training = Training(institution=institution)
    _apply(training, draft, institution)
    with transaction.atomic():
        training.save()
        audit_record(actor=actor, action="catalog.training_created", obj=training, after=_snapshot(training))
    return training


def _locked(training: Training) -> Training:
    return Training.objects.select_for_update().select_related("institution").get(pk=training.pk)


def _require_editable(training: Training) -> None:
    if training.status not in EDITABLE:
        raise TrainingNotEditable(status=TrainingStatus(training.status).label)


def training_update(*, training: Training, actor: Any, data: Mapping[str, Any]) -> Training:
    """Change a draft, or a training sent back for changes; the search text follows."""
    institution = _institution_of(actor, training)
    draft = _checked(data)
    with transaction.atomic():
        training = _locked(training)
        _require_editable(training)
        if draft.mode == Mode.ONLINE and training.sessions.exclude(village_code="").exists():
            raise invalid(
                TrainingInvalid,
                [
                    Problem(
                        "mode:sessions_with_venue", _("Remove the sessions with a venue before going online.")
                    )
                ],
            )
        before = _snapshot(training)
        _apply(training, draft, institution)
        training.save()
        audit_record(
            actor=actor,
            action="catalog.training_updated",
            obj=training,
            before=before,
            after=_snapshot(training),
        )
    return training


def training_submit(*, training: Training, actor: Any) -> Training:
    """Send a complete training to the programme office's curation queue."""
    _institution_of(actor, training)
    with transaction.atomic():
        training = _locked(training)
        _require_editable(training)
        draft = _draft({field: getattr(training, field) for field in TRAINING_FIELDS})
        problems = rules.training_problems(
            draft,
            price_max=settings.PRAKERJA_TRAINING_PRICE_MAX,
            sectors=Sector.values,
            levels=Level.values,
            modes=Mode.values,
        )
        # An in-person training needs sessions with a venue; sessions added while it was online have none.
        with_venue = (
            training.sessions.exclude(village_code="").count() if training.mode in rules.WITH_A_PLACE else 0
        )
        problems += rules.submission_problems(mode=training.mode, sessions=with_venue)
        if problems:
            raise invalid(TrainingInvalid, problems)
        training.status, training.submitted_at = TrainingStatus.SUBMITTED, timezone.now()
        training.save(update_fields=["status", "submitted_at"])
        audit_record(actor=actor, action="catalog.training_submitted", obj=training)
    return training


# --- sessions -----------------------------------------------------------------------------------------


def session_add(
    *,
    training: Training,
    actor: Any,
    starts_at: datetime,
    ends_at: datetime,
    village_code: str = "",
    address: str = "",
    capacity: int | None = None,
) -> Session:
    """A session of an editable training; in person, at a known village (its regency is derived)."""
    _institution_of(actor, training)
    village_code = village_code.replace(".", "").strip()
    address = rules.plain(address)
    with transaction.atomic():
        training = _locked(training)  # its mode as stored now decides whether a venue is needed
        _require_editable(training)
        problems = rules.session_problems(
            mode=training.mode,
            starts_at=starts_at,
            ends_at=ends_at,
            village_code=village_code,
            address=address,
            capacity=capacity,
        )
        online = training.mode == Mode.ONLINE
        if (
            village_code
            and not online
            and not problems
            and not Region.objects.filter(code=village_code, level=RegionLevel.VILLAGE).exists()
        ):
            problems.append(
                Problem("village_code:unknown", _("There is no village %(code)s."), {"code": village_code})
            )
        if problems:
            raise invalid(SessionInvalid, problems)
        session = Session.objects.create(
            training=training,
            starts_at=starts_at,
            ends_at=ends_at,
            village_code="" if online else village_code,
            regency_code="" if online else village_code[:4],
            address="" if online else address,
            capacity=None if online else capacity,
        )
        audit_record(
            actor=actor,
            action="catalog.session_added",
            obj=session,
            after={
                "training": training.pk,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "village_code": session.village_code,
                "capacity": session.capacity,
            },
        )
    return session


def session_remove(*, session: Session, actor: Any) -> None:
    """Remove a session of an editable training."""
    _institution_of(actor, session.training)
    with transaction.atomic():
        training = _locked(session.training)
        _require_editable(training)
        audit_record(
            actor=actor,
            action="catalog.session_removed",
            obj=session,
            before={"training": training.pk, "starts_at": session.starts_at.isoformat()},
        )
        session.delete()


# --- curation -----------------------------------------------------------------------------------------


def training_curate(
    *, training: Training, officer: Any, outcome: str, checklist: Mapping[str, bool], reasons: str
) -> Curation:
    """An officer's decision against the checklist; suspension takes the training off the catalogue."""
    reasons = reasons.strip()
    checklist = {code: bool(ticked) for code, ticked in checklist.items()}
    if outcome not in CurationOutcome.values:
        raise invalid(CurationInvalid, [Problem("outcome:unknown", _("Choose an outcome."))])
    problems = rules.curation_problems(
        outcome=outcome, mode=training.mode, checklist=checklist, reasons=reasons
    )
    if problems:
        raise invalid(CurationInvalid, problems)
    sources, target = TRANSITIONS[CurationOutcome(outcome)]
    with transaction.atomic():
        training = _locked(training)
        if training.status not in sources:
            raise CurationWrongState(
                status=TrainingStatus(training.status).label, outcome=CurationOutcome(outcome).label
            )
        before = training.status
        now = timezone.now()
        training.status = target
        if outcome == CurationOutcome.APPROVE:
            training.approved_at = now
        training.save(update_fields=["status", "approved_at"])
        curation = Curation.objects.create(
            training=training, outcome=outcome, checklist=checklist, reasons=reasons, officer=officer, at=now
        )
        audit_record(
            actor=officer,
            action="catalog.training_curated",
            obj=training,
            before={"status": before},
            after={"status": target, "outcome": outcome, "checklist": checklist, "reasons": reasons},
        )
    return curation


# --- listings -----------------------------------------------------------------------------------------


def listing_create(*, platform: Partner, training: Training, price: int, actor: Any) -> Listing:
    """A platform sells an approved training of an institution it may sell for, at most at its price."""
    with transaction.atomic():
        training = _locked(training)
        problems: list[Problem] = []
        refused = listing_problem(platform=platform, institution=training.institution)
        if refused:
            problems.append(refused)
        if training.status != TrainingStatus.APPROVED:
            problems.append(Problem("training:not_approved", _("Only an approved training may be listed.")))
        if price <= 0:
            problems.append(Problem("price:not_positive", _("The price must be more than zero.")))
        elif price > training.price:
            problems.append(
                Problem(
                    "price:above_cap",
                    _("The price %(price)s is above the training's price %(cap)s, the most it may sell for."),
                    {"price": format_rupiah(price), "cap": format_rupiah(training.price)},
                )
            )
        existing = Listing.objects.select_for_update().filter(platform=platform, training=training).first()
        if existing and existing.status == ListingStatus.ACTIVE:
            problems.append(Problem("listing:exists", _("The platform already lists this training.")))
        if problems:
            raise ListingRefused(problems)
        now = timezone.now()
        if existing:  # listed again after a withdrawal: one row per pair keeps its sales count
            existing.price, existing.status, existing.listed_at = price, ListingStatus.ACTIVE, now
            existing.save(update_fields=["price", "status", "listed_at"])
            listing = existing
        else:
            listing = Listing.objects.create(platform=platform, training=training, price=price, listed_at=now)
        audit_record(
            actor=actor,
            action="catalog.listing_created",
            obj=listing,
            after={"platform": platform.pk, "training": training.pk, "price": price},
        )
    return listing


def listing_withdraw(*, listing: Listing, actor: Any) -> Listing:
    """The platform stops selling the training; past sales stay counted."""
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status != ListingStatus.ACTIVE:
            raise ListingNotActive()
        listing.status = ListingStatus.WITHDRAWN
        listing.save(update_fields=["status"])
        audit_record(actor=actor, action="catalog.listing_withdrawn", obj=listing)
    return listing


# --- ratings and reviews ------------------------------------------------------------------------------


def _refresh_rating(training: Training) -> None:
    """The training's mean rating and count over its published reviews (hidden ones do not count)."""
    summary = Review.objects.filter(training=training, status=ReviewStatus.PUBLISHED).aggregate(
        mean=Avg("rating"), n=Count("pk")
    )
    mean = round(summary["mean"], 2) if summary["mean"] is not None else None
    Training.objects.filter(pk=training.pk).update(rating=mean, rating_count=summary["n"])
    training.rating, training.rating_count = mean, summary["n"]


def review_submit(*, training: Training, applicant: Applicant, rating: int, text: str) -> Review:
    """A participant rates a training once, 1 to 5, with an optional review.

    Only participants who completed the training may rate: that check belongs to the enrolment app, which
    records purchases and completion and is the one caller allowed to reach this service for participants.
    Purchases do not exist yet, so nothing here pretends to check it.
    """
    text = rules.plain(text)
    problems = rules.review_problems(rating=rating, text=text)
    if problems:
        raise invalid(ReviewInvalid, problems)
    with transaction.atomic():
        training = _locked(training)
        if training.status not in REVIEWABLE:
            raise invalid(
                ReviewInvalid, [Problem("training:not_public", _("This training is not in the catalogue."))]
            )
        if Review.objects.filter(training=training, applicant=applicant).exists():
            raise ReviewExists()
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    training=training,
                    applicant=applicant,
                    rating=rating,
                    text=text,
                    created_at=timezone.now(),
                )
        except IntegrityError:  # the same participant twice at once: the unique constraint decides
            raise ReviewExists() from None
        _refresh_rating(training)
        audit_record(
            actor=applicant.user or f"applicant:{applicant.pk}",
            action="catalog.review_submitted",
            obj=review,
            after={"training": training.pk, "rating": rating},
        )
    return review


def review_moderate(*, review: Review, officer: Any, hide: bool, note: str) -> Review:
    """Hide a review (with a note saying why) or publish it again; the rating follows."""
    note = note.strip()
    if hide and not note:
        raise invalid(
            ReviewInvalid, [Problem("note:missing", _("Say why the review is hidden: the note is kept."))]
        )
    if len(note) > 300:
        raise invalid(
            ReviewInvalid, [Problem("note:too_long", _("A note has at most %(n)d characters."), {"n": 300})]
        )
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review.pk)
        before = review.status
        review.status = ReviewStatus.HIDDEN if hide else ReviewStatus.PUBLISHED
        review.moderated_by, review.moderated_at, review.moderation_note = officer, timezone.now(), note
        review.save(update_fields=["status", "moderated_by", "moderated_at", "moderation_note"])
        _refresh_rating(review.training)
        audit_record(
            actor=officer,
            action="catalog.review_moderated",
            obj=review,
            before={"status": before},
            after={"status": review.status, "note": note},
        )
    return review
