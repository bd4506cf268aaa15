"""Enrolment writes: link a card to a platform, buy a training against the balance, cancel, redeem the
voucher, report attendance, post-test and completion, issue the certificate, rate the training."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from prakerja.catalog.models import Listing, ListingStatus, Review, Session, Training, TrainingStatus
from prakerja.catalog.services import review_submit
from prakerja.core.audit import audit_record, rows_digest
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
from prakerja.core.notifications import notify, notify_many
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
from prakerja.ledger.services import InsufficientBalance, account_open, balances_lock, entry_post
from prakerja.partners.models import Kind, Partner, PartnerStatus
from prakerja.partners.selectors import IN_GOOD_STANDING
from prakerja.partners.services import webhook_enqueue, webhook_enqueue_many
from prakerja.waves.models import Card, CardStatus

ESCROW_PREFIX = "escrow:vouchers:"  # balances held for vouchers not redeemed yet
# Escrow is spread over accounts, so concurrent purchases do not queue on one row (Purchase.escrow_shard).
ESCROW_SHARDS = 64


def escrow_account(shard: int) -> str:
    return f"{ESCROW_PREFIX}{shard:02d}"


LINK_ATTEMPTS = 5
# Card holders are written to in the pages' first language, not in whatever language the platform's API
# call asked for (its answers and errors follow that one).
PARTICIPANT_LANGUAGE = settings.LANGUAGE_CODE


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
    """A message to a card holder: composed by the caller in `PARTICIPANT_LANGUAGE`."""
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
        with translation.override(PARTICIPANT_LANGUAGE):
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


@dataclass(frozen=True)
class PurchaseWanted:
    card_number: str
    training_id: int


@dataclass
class PurchaseResult:
    """One item of a batch: the purchase made, or why it was refused."""

    purchase: Purchase | None = None
    error: PrakerjaError | None = None


def purchase_create(*, platform: Partner, card_number: str, training_id: int) -> Purchase:
    """Buy one listed training with the card's balance: the price is held and a voucher code issued."""
    [result] = purchases_create(platform=platform, wanted=[PurchaseWanted(card_number, training_id)])
    if result.error is not None:
        raise result.error
    assert result.purchase is not None
    return result.purchase


def purchases_create(*, platform: Partner, wanted: Sequence[PurchaseWanted]) -> list[PurchaseResult]:
    """Buy listed trainings with their cards' balances, each item bought or refused on its own.

    Set-based, so a platform may send a batch: the cards' ledger accounts are locked in code order while the
    balances are decided, then every price is moved to escrow in one journal entry, so concurrent purchases
    against one card (in one batch or many) never take more than its balance. One audit entry names the
    batch's purchases by digest; each participant is told their voucher code; the platform gets a webhook
    per purchase."""
    _selling_platform(platform)
    numbers = {w.card_number.strip() for w in wanted}
    cards = {c.number: c for c in Card.objects.select_related("applicant").filter(number__in=numbers)}
    linked = set(
        CardLink.objects.filter(
            card__number__in=numbers, platform=platform, status=LinkStatus.CONFIRMED
        ).values_list("card_id", flat=True)
    )
    listings = {
        listing.training_id: listing
        for listing in Listing.objects.select_related("training__institution").filter(
            platform=platform, training_id__in={w.training_id for w in wanted}, status=ListingStatus.ACTIVE
        )
    }
    results = [PurchaseResult() for _ in wanted]
    possible: list[tuple[int, Card, Listing]] = []
    for index, item in enumerate(wanted):
        card = cards.get(item.card_number.strip())
        listing = listings.get(item.training_id)
        if card is None or card.status != CardStatus.ACTIVE or card.pk not in linked:
            results[index].error = CardNotUsable()
        elif listing is None:
            results[index].error = NotSellable(reason=_("the platform does not list it"))
        elif (
            listing.training.status != TrainingStatus.APPROVED
            or listing.training.institution.status not in IN_GOOD_STANDING
        ):
            results[index].error = NotSellable(reason=_("the training or its institution is not available"))
        else:
            possible.append((index, card, listing))
    if not possible:
        return results
    for _attempt in range(3):  # a voucher code collision is astronomically rare, but never fatal
        try:
            with transaction.atomic():
                made = _purchases_book(platform, possible, results)
            break
        except IntegrityError:
            for index, _card, _listing in possible:
                results[index] = PurchaseResult()
    else:
        raise Conflict()
    for index, purchase in made:
        results[index].purchase = purchase
    return results


def _purchases_book(
    platform: Partner, possible: list[tuple[int, Card, Listing]], results: list[PurchaseResult]
) -> list[tuple[int, Purchase]]:
    """Inside the caller's transaction: decide against the locked balances, then write everything at once."""
    balances = balances_lock([card.account_code for _i, card, _l in possible])
    accepted: list[tuple[int, Card, Listing]] = []
    for index, card, listing in possible:
        left = balances.get(card.account_code, 0)
        if left < listing.price:
            results[index].error = InsufficientBalance(account=card.account_code)
            continue
        balances[card.account_code] = left - listing.price
        accepted.append((index, card, listing))
    if not accepted:
        return []
    now = timezone.now()
    shard = secrets.randbelow(ESCROW_SHARDS)
    purchases = Purchase.objects.bulk_create(
        Purchase(
            escrow_shard=shard,
            card=card,
            listing=listing,
            training=listing.training,
            platform=platform,
            institution=listing.training.institution,
            price=listing.price,
            voucher_code=rules.new_code(12),
            created_at=now,
        )
        for _index, card, listing in accepted
    )
    escrow = escrow_account(shard)
    account_open(code=escrow, name="Balances held for unredeemed vouchers")
    entry = entry_post(
        postings=[
            *((p.card.account_code, -p.price) for p in purchases),
            (escrow, sum(p.price for p in purchases)),
        ],
        memo=(
            f"purchase {purchases[0].pk}: training {purchases[0].training_id} on platform {platform.pk}"
            if len(purchases) == 1
            else f"{len(purchases)} purchases on platform {platform.pk}"
        ),
        actor=f"partner:{platform.pk}",
        audited=False,
    )
    Card.objects.filter(pk__in={p.card_id for p in purchases}, first_purchase_at__isnull=True).update(
        first_purchase_at=now
    )
    rows = [
        {"purchase": p.pk, "training": p.training_id, "price": p.price, "card": p.card_id} for p in purchases
    ]
    audit_record(
        actor=f"partner:{platform.pk}",
        action="enrolment.purchased",
        obj=purchases[0] if len(purchases) == 1 else platform,
        after={"entry": entry.pk, **rows[0]}
        if len(purchases) == 1
        else {"entry": entry.pk, "purchases": len(purchases), "rows_digest": rows_digest(rows)},
    )
    messages = []
    with translation.override(PARTICIPANT_LANGUAGE):
        for purchase in purchases:
            body = str(
                _("You bought %(training)s on %(platform)s for %(price)s. Your voucher code: %(code)s.")
                % {
                    "training": purchase.training.title_id,
                    "platform": platform.name,
                    "price": format_rupiah(purchase.price),
                    "code": purchase.voucher_code,
                }
            )
            applicant = purchase.card.applicant
            if applicant.email:
                messages.append((Channel.EMAIL, applicant.email, str(_("Your Prakerja voucher")), body))
            elif applicant.phone:
                messages.append((Channel.SMS, applicant.phone, "", body))
    notify_many(messages)
    webhook_enqueue_many(
        events=[
            (
                platform,
                "purchase.created",
                {
                    "purchase_id": p.pk,
                    "training_id": p.training_id,
                    "price": p.price,
                    "status": p.status,
                    "created_at": now,
                },
            )
            for p in purchases
        ]
    )
    return [(index, purchase) for (index, _c, _l), purchase in zip(accepted, purchases, strict=True)]


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
                (escrow_account(purchase.escrow_shard), -purchase.price),
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
            postings=[(escrow_account(purchase.escrow_shard), -purchase.price), (payable, purchase.price)],
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
