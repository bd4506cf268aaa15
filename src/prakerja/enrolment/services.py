"""Enrolment writes: link a card to a platform, buy a training against the balance, cancel, redeem the
voucher, report attendance, post-test and completion, issue the certificate, rate the training."""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prakerja.catalog.models import Listing, ListingStatus, Review, Session, Training, TrainingStatus
from prakerja.catalog.services import review_submit
from prakerja.core.audit import audit_record
from prakerja.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PrakerjaError,
    TooManyRequests,
)
from prakerja.core.models import Channel
from prakerja.core.money import format_rupiah
from prakerja.core.notifications import notify
from prakerja.enrolment import rules
from prakerja.enrolment.models import (
    Attendance,
    AttendanceMethod,
    CardLink,
    Certificate,
    LinkStatus,
    Purchase,
    PurchaseStatus,
)
from prakerja.ledger.services import account_open, entry_post
from prakerja.partners.models import Kind, Partner, PartnerStatus
from prakerja.partners.selectors import IN_GOOD_STANDING
from prakerja.partners.services import webhook_enqueue
from prakerja.waves.models import Card, CardStatus

ESCROW_PREFIX = "escrow:vouchers:"  # balances held for vouchers not redeemed yet
# Escrow is spread over accounts by card, so concurrent purchases of different cards do not queue on one row.
ESCROW_SHARDS = 64


def escrow_account(card_number: str) -> str:
    return f"{ESCROW_PREFIX}{int(card_number) % ESCROW_SHARDS:02d}"


LINK_ATTEMPTS = 5


def payable_account(platform: Partner) -> str:
    """What the programme owes a platform for redeemed vouchers (settled by the payments app)."""
    return f"payable:platform:{platform.pk}"


class CardNotUsable(Conflict):
    code = "card_not_usable"
    message = _("This card cannot be used: it is unknown, revoked, or not linked to this platform.")


class LinkCodeWrong(InvalidInput):
    code = "link_code_wrong"
    message = _("The code is wrong or has expired. Ask the participant for a new one.")
    keeps_writes = True  # the failed attempt counts even when the caller's transaction is rolled back


class LinkRequestedTooOften(TooManyRequests):
    code = "link_requested_too_often"
    message = _("A code was sent to this card's holder a moment ago. Wait a minute before asking again.")
    retry_after = 60


class NotSellable(Conflict):
    code = "not_sellable"
    message = _("This training is not for sale on this platform: %(reason)s")


class VoucherUnknown(NotFound):
    code = "voucher_unknown"
    message = _("There is no such voucher for your institution.")


class PurchaseWrongState(Conflict):
    code = "purchase_wrong_state"
    message = _("The purchase is %(status)s; this step needs it %(needed)s.")


class OutsideRedeemWindow(Conflict):
    code = "outside_redeem_window"
    message = _("This voucher can be redeemed only between %(opens)s and %(closes)s.")


class WithdrawalClosed(Conflict):
    code = "withdrawal_closed"
    message = _("The withdrawal window of this purchase closed on %(closed)s.")


class NotAttended(Conflict):
    code = "not_attended"
    message = _(
        "No attendance is reported for this participant: a training nobody attended is not completed."
    )


def _digest(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"card-link:{code}".encode(), hashlib.sha256).hexdigest()


def _wrong_state(purchase: Purchase, *needed: str) -> PurchaseWrongState:
    return PurchaseWrongState(
        status=PurchaseStatus(purchase.status).label,
        needed=" / ".join(str(PurchaseStatus(s).label) for s in needed),
    )


def _selling_platform(platform: Partner) -> None:
    if platform.kind != Kind.PLATFORM or platform.status != PartnerStatus.INTEGRATED:
        raise Forbidden(_("Only an integrated platform may sell trainings."))


def _card(number: str) -> Card:
    card = Card.objects.select_related("applicant").filter(number=number.strip()).first()
    if card is None or card.status != CardStatus.ACTIVE:
        raise CardNotUsable()
    return card


def _tell(applicant: Any, subject: Any, body: str) -> None:
    if applicant.email:
        notify(channel=Channel.EMAIL, recipient=applicant.email, subject=str(subject), body=body)
    elif applicant.phone:
        notify(channel=Channel.SMS, recipient=applicant.phone, body=body)


# --- linking a card -------------------------------------------------------------------------------------


def card_link_request(*, platform: Partner, card_number: str) -> CardLink:
    """Send the card holder a one-time code that confirms linking their card to this platform."""
    _selling_platform(platform)
    card = _card(card_number)
    code = rules.new_code(6)
    now = timezone.now()
    with transaction.atomic():
        link, _created = CardLink.objects.select_for_update().get_or_create(
            card=card,
            platform=platform,
            defaults={"code_digest": _digest(code), "code_expires_at": now, "requested_at": now},
        )
        if link.status == LinkStatus.CONFIRMED:
            return link
        if not _created and link.requested_at > now - timedelta(minutes=1):
            raise LinkRequestedTooOften()  # the holder is not flooded with codes
        link.code_digest, link.attempts, link.requested_at = _digest(code), 0, now
        link.code_expires_at = now + timedelta(minutes=settings.PRAKERJA_LINK_CODE_MINUTES)
        link.save()
        body = _(
            "%(platform)s asks to use your Prakerja card ending %(last4)s. If that is you, give them "
            "the code %(code)s (valid %(minutes)d minutes). If not, ignore this message."
        ) % {
            "platform": platform.name,
            "last4": card.number[-4:],
            "code": code,
            "minutes": settings.PRAKERJA_LINK_CODE_MINUTES,
        }
        _tell(card.applicant, _("Link your Prakerja card"), body)
        audit_record(actor=f"partner:{platform.pk}", action="enrolment.link_requested", obj=link)
    return link


def card_link_confirm(*, platform: Partner, card_number: str, code: str) -> CardLink:
    """Confirm the link with the participant's code; wrong codes count, and five end the code."""
    card = _card(card_number)
    with transaction.atomic():
        link = CardLink.objects.select_for_update().filter(card=card, platform=platform).first()
        if link is None:
            raise LinkCodeWrong()
        if link.status == LinkStatus.CONFIRMED:
            return link
        now = timezone.now()
        usable = link.code_expires_at > now and link.attempts < LINK_ATTEMPTS
        if not usable or not hmac.compare_digest(link.code_digest, _digest(rules.normal_code(code))):
            link.attempts += 1
            link.save(update_fields=["attempts"])
            wrong = True  # the failed attempt is committed with this block; the refusal comes after it
        else:
            link.status, link.confirmed_at = LinkStatus.CONFIRMED, now
            link.save(update_fields=["status", "confirmed_at"])
            audit_record(actor=f"partner:{platform.pk}", action="enrolment.link_confirmed", obj=link)
            wrong = False
    if wrong:
        raise LinkCodeWrong()
    return link


# --- buying ---------------------------------------------------------------------------------------------


def purchase_create(*, platform: Partner, card_number: str, training_id: int) -> Purchase:
    """Buy one listed training with the card's balance: the price is held and a voucher code issued.

    The balance is moved in the same transaction; the card's ledger account is locked while it moves,
    so concurrent purchases against one card never take more than the balance.
    """
    _selling_platform(platform)
    card = _card(card_number)
    if not CardLink.objects.filter(card=card, platform=platform, status=LinkStatus.CONFIRMED).exists():
        raise CardNotUsable()
    listing = (
        Listing.objects.select_related("training__institution")
        .filter(platform=platform, training_id=training_id, status=ListingStatus.ACTIVE)
        .first()
    )
    if listing is None:
        raise NotSellable(reason=_("the platform does not list it"))
    training = listing.training
    if training.status != TrainingStatus.APPROVED or training.institution.status not in IN_GOOD_STANDING:
        raise NotSellable(reason=_("the training or its institution is not available"))
    now = timezone.now()
    for _attempt in range(3):  # a voucher code collision is astronomically rare, but never fatal
        try:
            with transaction.atomic():
                purchase = Purchase.objects.create(
                    card=card,
                    listing=listing,
                    training=training,
                    platform=platform,
                    institution=training.institution,
                    price=listing.price,
                    voucher_code=rules.new_code(12),
                    created_at=now,
                )
                escrow = escrow_account(card.number)
                account_open(code=escrow, name="Balances held for unredeemed vouchers")
                entry = entry_post(
                    postings=[(card.account_code, -listing.price), (escrow, listing.price)],
                    memo=f"purchase {purchase.pk}: training {training.pk} on platform {platform.pk}",
                    actor=f"partner:{platform.pk}",
                    idempotency_key=f"purchase:{purchase.pk}",
                    audited=False,
                )
                if card.first_purchase_at is None:
                    Card.objects.filter(pk=card.pk, first_purchase_at__isnull=True).update(
                        first_purchase_at=now
                    )
                audit_record(
                    actor=f"partner:{platform.pk}",
                    action="enrolment.purchased",
                    obj=purchase,
                    after={
                        "training": training.pk,
                        "price": listing.price,
                        "card": card.pk,
                        "entry": entry.pk,
                    },
                )
                _tell(
                    card.applicant,
                    _("Your Prakerja voucher"),
                    str(
                        _(
                            "You bought %(training)s on %(platform)s for %(price)s. "
                            "Your voucher code: %(code)s."
                        )
                        % {
                            "training": training.title_id,
                            "platform": platform.name,
                            "price": format_rupiah(listing.price),
                            "code": purchase.voucher_code,
                        }
                    ),
                )
                webhook_enqueue(
                    partner=platform,
                    event_type="purchase.created",
                    data={
                        "purchase_id": purchase.pk,
                        "training_id": training.pk,
                        "price": purchase.price,
                        "status": purchase.status,
                        "created_at": now,
                    },
                )
            return purchase
        except IntegrityError:
            continue
    raise Conflict()


def purchase_cancel(*, purchase: Purchase, actor: Any, reason: str, by_participant: bool) -> Purchase:
    """Cancel an unredeemed voucher and refund its price to the card; a participant only within the
    withdrawal window."""
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().select_related("card").get(pk=purchase.pk)
        if purchase.status != PurchaseStatus.PAID:
            raise _wrong_state(purchase, PurchaseStatus.PAID)
        now = timezone.now()
        window = timedelta(days=settings.PRAKERJA_WITHDRAWAL_DAYS)
        if by_participant and not rules.may_withdraw(
            purchased_at=purchase.created_at, now=now, window=window
        ):
            raise WithdrawalClosed(
                closed=timezone.localtime(purchase.created_at + window).strftime("%Y-%m-%d %H:%M")
            )
        entry = entry_post(
            postings=[
                (escrow_account(purchase.card.number), -purchase.price),
                (purchase.card.account_code, purchase.price),
            ],
            memo=f"refund of purchase {purchase.pk}",
            actor=actor,
            idempotency_key=f"refund:{purchase.pk}",
            audited=False,
        )
        purchase.status, purchase.cancelled_at, purchase.cancel_reason = (
            PurchaseStatus.CANCELLED,
            now,
            reason[:200],
        )
        purchase.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        audit_record(
            actor=actor,
            action="enrolment.cancelled",
            obj=purchase,
            after={"reason": reason, "entry": entry.pk},
        )
        webhook_enqueue(
            partner=purchase.platform,
            event_type="purchase.cancelled",
            data={
                "purchase_id": purchase.pk,
                "training_id": purchase.training_id,
                "status": purchase.status,
                "cancelled_at": now,
            },
        )
    return purchase


# --- the institution's side -----------------------------------------------------------------------------


def voucher_get(*, institution: Partner, code: str) -> Purchase:
    """The purchase behind a voucher code, only for the institution that teaches it."""
    purchase = (
        Purchase.objects.select_related("training", "card__applicant")
        .filter(voucher_code=rules.normal_code(code), institution=institution)
        .first()
    )
    if purchase is None:
        raise VoucherUnknown()
    return purchase


def _window(purchase: Purchase, session: Session | None) -> tuple[datetime, datetime]:
    return rules.redeem_window(
        session_start=session.starts_at if session else None,
        purchased_at=purchase.created_at,
        before=timedelta(hours=settings.PRAKERJA_REDEEM_BEFORE_HOURS),
        after=timedelta(hours=settings.PRAKERJA_REDEEM_AFTER_HOURS),
        online=timedelta(days=settings.PRAKERJA_ONLINE_REDEEM_DAYS),
    )


def voucher_redeem(*, institution: Partner, code: str, session_id: int | None = None) -> Purchase:
    """Commit the redemption once, within the window around the session's start; the held price becomes
    what the programme owes the platform."""
    found = voucher_get(institution=institution, code=code)
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().select_related("platform", "card").get(pk=found.pk)
        if purchase.status != PurchaseStatus.PAID:
            raise _wrong_state(purchase, PurchaseStatus.PAID)
        session = None
        if session_id is not None:
            session = Session.objects.filter(pk=session_id, training_id=purchase.training_id).first()
            if session is None:
                raise InvalidInput(
                    problems=[
                        {"field": "session_id", "code": "unknown", "message": str(_("No such session."))}
                    ]
                )
        elif purchase.training.sessions.exclude(village_code="").exists():
            raise InvalidInput(
                problems=[
                    {
                        "field": "session_id",
                        "code": "missing",
                        "message": str(_("Name the session attended.")),
                    }
                ]
            )
        opens, closes = _window(purchase, session)
        now = timezone.now()
        if not opens <= now <= closes:
            raise OutsideRedeemWindow(
                opens=timezone.localtime(opens).strftime("%Y-%m-%d %H:%M"),
                closes=timezone.localtime(closes).strftime("%Y-%m-%d %H:%M"),
            )
        payable = payable_account(purchase.platform)
        account_open(code=payable, name=f"Owed to platform {purchase.platform.name}")
        entry = entry_post(
            postings=[(escrow_account(purchase.card.number), -purchase.price), (payable, purchase.price)],
            memo=f"redemption of purchase {purchase.pk}",
            actor=f"partner:{institution.pk}",
            idempotency_key=f"redeem:{purchase.pk}",
            audited=False,
        )
        purchase.status, purchase.redeemed_at, purchase.redeemed_session = (
            PurchaseStatus.REDEEMED,
            now,
            session,
        )
        purchase.save(update_fields=["status", "redeemed_at", "redeemed_session"])
        audit_record(
            actor=f"partner:{institution.pk}",
            action="enrolment.redeemed",
            obj=purchase,
            after={"entry": entry.pk},
        )
        webhook_enqueue(
            partner=[purchase.platform, institution],
            event_type="voucher.redeemed",
            data={
                "purchase_id": purchase.pk,
                "training_id": purchase.training_id,
                "status": purchase.status,
                "redeemed_at": now,
                "session_id": purchase.redeemed_session_id,
            },
        )
    return purchase


def attendance_report(
    *,
    institution: Partner,
    code: str,
    started_at: datetime,
    ended_at: datetime,
    method: str,
    evidence: str,
    session_id: int | None = None,
) -> Attendance:
    """Record that the participant attended (a session of) the training, with how it was checked."""
    purchase = voucher_get(institution=institution, code=code)
    if purchase.status != PurchaseStatus.REDEEMED:
        raise _wrong_state(purchase, PurchaseStatus.REDEEMED)
    problems = []
    for field, moment in (("started_at", started_at), ("ended_at", ended_at)):
        if timezone.is_naive(moment):
            message = str(_("Give the time with its time zone, e.g. 2026-05-04T09:00:00+07:00."))
            problems.append({"field": field, "code": "no_time_zone", "message": message})
    if problems:
        raise InvalidInput(problems=problems)
    if ended_at <= started_at:
        problems.append(
            {"field": "ended_at", "code": "before_start", "message": str(_("It must end after it starts."))}
        )
    if method not in AttendanceMethod.values:
        problems.append(
            {"field": "method", "code": "unknown", "message": str(_("Unknown attendance method."))}
        )
    if not evidence.strip():
        problems.append({"field": "evidence", "code": "missing", "message": str(_("Describe the evidence."))})
    session = None
    if session_id is not None:
        session = Session.objects.filter(pk=session_id, training_id=purchase.training_id).first()
        if session is None:
            problems.append({"field": "session_id", "code": "unknown", "message": str(_("No such session."))})
    if problems:
        raise InvalidInput(problems=problems)
    with transaction.atomic():
        attendance = Attendance.objects.create(
            purchase=purchase,
            session=session,
            started_at=started_at,
            ended_at=ended_at,
            method=method,
            evidence=evidence.strip()[:300],
            reported_at=timezone.now(),
        )
        audit_record(
            actor=f"partner:{institution.pk}",
            action="enrolment.attended",
            obj=purchase,
            after={"session": session_id, "method": method},
        )
    return attendance


def post_test_report(*, institution: Partner, code: str, score: int) -> Purchase:
    if not 0 <= score <= 100:
        raise InvalidInput(
            problems=[{"field": "score", "code": "invalid", "message": str(_("A score is 0 to 100."))}]
        )
    purchase = voucher_get(institution=institution, code=code)
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
        if purchase.status != PurchaseStatus.REDEEMED:
            raise _wrong_state(purchase, PurchaseStatus.REDEEMED)
        purchase.post_test_score = score
        purchase.save(update_fields=["post_test_score"])
        audit_record(
            actor=f"partner:{institution.pk}",
            action="enrolment.post_test",
            obj=purchase,
            after={"score": score},
        )
    return purchase


def _signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(settings.CERTIFICATE_KEY))


def public_key_b64() -> str:
    """The certificates' public key (raw 32 bytes, base64), published for anyone to check a signature."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = _signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def completion_report(*, institution: Partner, code: str) -> Certificate:
    """The institution reports completion: a redeemed voucher with attendance gets its signed certificate."""
    purchase = voucher_get(institution=institution, code=code)
    with transaction.atomic():
        purchase = (
            Purchase.objects.select_for_update()
            .select_related("training", "institution", "card__applicant")
            .get(pk=purchase.pk)
        )
        if purchase.status != PurchaseStatus.REDEEMED:
            raise _wrong_state(purchase, PurchaseStatus.REDEEMED)
        if not purchase.attendances.exists():
            raise NotAttended()
        now = timezone.now()
        purchase.status, purchase.completed_at = PurchaseStatus.COMPLETED, now
        purchase.save(update_fields=["status", "completed_at"])
        certificate = Certificate(
            purchase=purchase,
            code=rules.new_code(12),
            holder_name=purchase.card.applicant.full_name,
            training_title=purchase.training.title_id,
            institution_name=purchase.institution.name,
            completed_on=timezone.localdate(now),
            issued_at=now,
        )
        text = rules.certificate_text(
            code=certificate.code,
            name=certificate.holder_name,
            training=certificate.training_title,
            institution=certificate.institution_name,
            completed_on=certificate.completed_on.isoformat(),
        )
        certificate.signature = base64.b64encode(_signing_key().sign(text)).decode()
        certificate.save()
        audit_record(
            actor=f"partner:{institution.pk}",
            action="enrolment.completed",
            obj=purchase,
            after={"certificate": certificate.code},
        )
        from prakerja.enrolment.selectors import verify_url  # selectors imports this module

        webhook_enqueue(
            partner=[purchase.platform, purchase.institution],
            event_type="certificate.issued",
            data={
                "purchase_id": purchase.pk,
                "certificate_code": certificate.code,
                "verify_url": verify_url(certificate.code),
                "completed_on": certificate.completed_on,
            },
        )
    return certificate


# --- the participant ------------------------------------------------------------------------------------


def training_rate(*, purchase: Purchase, applicant: Any, rating: int, text: str) -> Review:
    """Only the participant who completed the training may rate it (once)."""
    purchase = Purchase.objects.select_related("card", "training").get(pk=purchase.pk)
    if purchase.card.applicant_id != applicant.pk:
        raise NotFound()
    if purchase.status != PurchaseStatus.COMPLETED:
        raise PrakerjaError(_("You can rate a training after you complete it."), code="not_completed")
    return review_submit(training=purchase.training, applicant=applicant, rating=rating, text=text)


def vouchers_expire(*, now: datetime | None = None) -> int:
    """Cancel and refund each unredeemed voucher whose redeem window has closed (run daily); how many."""
    now = now or timezone.now()
    # An in-person voucher may be redeemed until the window of the training's last session closes.
    last_start = Max("training__sessions__starts_at", filter=~Q(training__sessions__village_code=""))
    expired = (
        Purchase.objects.filter(status=PurchaseStatus.PAID)
        .annotate(last_start=last_start)
        .filter(
            Q(
                last_start__isnull=True,
                created_at__lt=now - timedelta(days=settings.PRAKERJA_ONLINE_REDEEM_DAYS),
            )
            | Q(last_start__lt=now - timedelta(hours=settings.PRAKERJA_REDEEM_AFTER_HOURS))
        )
    )
    count = 0
    for purchase in expired.iterator(chunk_size=1000):
        try:
            purchase_cancel(
                purchase=purchase, actor="system:expiry", reason="voucher expired", by_participant=False
            )
        except PurchaseWrongState:
            continue  # redeemed or cancelled since the query: nothing to refund
        count += 1
    return count


def sales_refresh() -> None:
    """Recount every training's and listing's purchases that were not cancelled (run every few minutes).

    Counted apart from the purchase itself, so buyers of one popular training never queue on its row."""
    live = Purchase.objects.exclude(status=PurchaseStatus.CANCELLED)
    for model, field in ((Training, "training"), (Listing, "listing")):
        counted = live.filter(**{field: OuterRef("pk")}).values(field).annotate(n=Count("pk")).values("n")
        model.objects.update(sold=Coalesce(Subquery(counted), 0))
