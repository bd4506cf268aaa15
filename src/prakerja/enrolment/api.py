"""The partner API of enrolment: platforms link cards and sell trainings; institutions redeem vouchers and
report attendance, post-tests and completion. Voucher codes travel in bodies, never in URLs."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from prakerja.core.api import problem_body
from prakerja.core.errors import NotFound
from prakerja.core.idempotency import idempotent
from prakerja.enrolment import selectors, services
from prakerja.enrolment.models import Purchase
from prakerja.partners.api import PartnerAuth, partner_owner, request_partner

router = Router(tags=["partner: enrolment"])


class CardIn(Schema):
    card_number: str


class CardConfirmIn(Schema):
    card_number: str
    code: str


class LinkOut(Schema):
    card_last4: str
    status: str


class PurchaseIn(Schema):
    card_number: str
    training_id: int


BATCH_MAX = 500


class PurchaseBatchIn(Schema):
    purchases: list[PurchaseIn] = Field(min_length=1, max_length=BATCH_MAX)


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str


class PurchaseOut(Schema):
    """A sale as the platform sees it: the voucher code goes to the participant only."""

    id: int
    training_id: int
    card_last4: str
    price: int
    status: str
    created_at: datetime
    redeemed_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    withdrawal_until: datetime

    @staticmethod
    def resolve_card_last4(obj: Purchase) -> str:
        return obj.card.number[-4:]

    @staticmethod
    def resolve_withdrawal_until(obj: Purchase) -> datetime:
        return obj.created_at + timedelta(days=settings.PRAKERJA_WITHDRAWAL_DAYS)


class CancelIn(Schema):
    reason: str


class VoucherIn(Schema):
    code: str


class VoucherOut(Schema):
    """A voucher as its institution sees it, to check the person in front of it and redeem."""

    purchase_id: int
    training_id: int
    participant_name: str
    status: str
    redeemed_at: datetime | None
    attendances: int
    post_test_score: int | None
    certificate_code: str | None


class RedeemIn(VoucherIn):
    session_id: int | None = None


class AttendanceIn(VoucherIn):
    session_id: int | None = None
    started_at: datetime
    ended_at: datetime
    method: str
    evidence: str


class PostTestIn(VoucherIn):
    score: int


class CertificateOut(Schema):
    purchase_id: int
    certificate_code: str
    verify_url: str


def _voucher_out(purchase: Purchase) -> dict[str, object]:
    certificate = getattr(purchase, "certificate", None)
    return {
        "purchase_id": purchase.pk,
        "training_id": purchase.training_id,
        "participant_name": purchase.card.applicant.full_name,
        "status": purchase.status,
        "redeemed_at": purchase.redeemed_at,
        "attendances": purchase.attendances.count(),
        "post_test_score": purchase.post_test_score,
        "certificate_code": certificate.code if certificate else None,
    }


def _own_sale(request: HttpRequest, purchase_id: int) -> Purchase:
    purchase = (
        Purchase.objects.select_related("card")
        .filter(pk=purchase_id, platform=request_partner(request))
        .first()
    )
    if purchase is None:  # another platform's sale looks exactly like a missing one
        raise NotFound()
    return purchase


# --- platforms ------------------------------------------------------------------------------------------


@router.post("/cards/links", response={202: LinkOut}, auth=PartnerAuth(scopes=["cards:link"]))
@idempotent(owner_of=partner_owner)
def card_link_request(request: HttpRequest, data: CardIn) -> Status:
    """Ask to link a participant's card: the participant receives a one-time code to give the platform."""
    link = services.card_link_request(platform=request_partner(request), card_number=data.card_number)
    return Status(202, {"card_last4": link.card.number[-4:], "status": link.status})


@router.post("/cards/links/confirm", response={200: LinkOut}, auth=PartnerAuth(scopes=["cards:link"]))
@idempotent(owner_of=partner_owner)
def card_link_confirm(request: HttpRequest, data: CardConfirmIn) -> Status:
    """Confirm the link with the participant's code."""
    link = services.card_link_confirm(
        platform=request_partner(request), card_number=data.card_number, code=data.code
    )
    return Status(200, {"card_last4": link.card.number[-4:], "status": link.status})


@router.post("/purchases", response={201: PurchaseOut}, auth=PartnerAuth(scopes=["purchases:write"]))
@idempotent(owner_of=partner_owner)
def purchase_create(request: HttpRequest, data: PurchaseIn) -> Status:
    """Buy one listed training with a linked card's balance; the participant receives the voucher code."""
    purchase = services.purchase_create(
        platform=request_partner(request), card_number=data.card_number, training_id=data.training_id
    )
    return Status(201, purchase)


class PurchaseBatchItem(Schema):
    """One item of a batch, in the order sent: 201 with the purchase, or the problem that refused it."""

    status: int
    purchase: PurchaseOut | None = None
    problem: Problem | None = None


class PurchaseBatchOut(Schema):
    created: int
    refused: int
    results: list[PurchaseBatchItem]


@router.post(
    "/purchases/batch", response={200: PurchaseBatchOut}, auth=PartnerAuth(scopes=["purchases:write"])
)
@idempotent(owner_of=partner_owner)
def purchase_batch(request: HttpRequest, data: PurchaseBatchIn) -> Status:
    """Buy up to 500 listed trainings in one request, each bought or refused on its own (a refused item
    carries the same problem as `POST /purchases` would give); one `Idempotency-Key` for the whole batch."""
    results = services.purchases_create(
        platform=request_partner(request),
        wanted=[services.PurchaseWanted(p.card_number, p.training_id) for p in data.purchases],
    )
    items: list[dict[str, object]] = []
    for result in results:
        if result.error is not None:
            items.append({"status": result.error.status, "problem": problem_body(result.error)})
        else:
            items.append({"status": 201, "purchase": result.purchase})
    created = sum(1 for item in items if item["status"] == 201)
    return Status(200, {"created": created, "refused": len(items) - created, "results": items})


@router.get("/purchases", response=list[PurchaseOut], auth=PartnerAuth(scopes=["purchases:read"]))
@paginate(PageNumberPagination, page_size=50)
def purchase_list(request: HttpRequest, status: str = "") -> QuerySet[Purchase]:
    """The platform's own sales, newest first."""
    return selectors.platform_sales(request_partner(request), status=status)


@router.get("/purchases/{purchase_id}", response=PurchaseOut, auth=PartnerAuth(scopes=["purchases:read"]))
def purchase_get(request: HttpRequest, purchase_id: int) -> Purchase:
    """One of the platform's own sales."""
    return _own_sale(request, purchase_id)


@router.post(
    "/purchases/{purchase_id}/cancel",
    response={200: PurchaseOut},
    auth=PartnerAuth(scopes=["purchases:write"]),
)
@idempotent(owner_of=partner_owner)
def purchase_cancel(request: HttpRequest, purchase_id: int, data: CancelIn) -> Status:
    """Cancel an unredeemed purchase at the participant's request, within the withdrawal window; refunded."""
    purchase = services.purchase_cancel(
        purchase=_own_sale(request, purchase_id),
        actor=f"partner:{request_partner(request).pk}",
        reason=data.reason,
        by_participant=True,
    )
    return Status(200, purchase)


# --- institutions ---------------------------------------------------------------------------------------


@router.post("/vouchers/lookup", response=VoucherOut, auth=PartnerAuth(scopes=["participants:read"]))
def voucher_lookup(request: HttpRequest, data: VoucherIn) -> dict[str, object]:
    """A voucher's status, for the institution that teaches its training only (a read: no Idempotency-Key)."""
    return _voucher_out(services.voucher_get(institution=request_partner(request), code=data.code))


@router.post("/vouchers/redeem", response={200: VoucherOut}, auth=PartnerAuth(scopes=["redemptions:write"]))
@idempotent(owner_of=partner_owner)
def voucher_redeem(request: HttpRequest, data: RedeemIn) -> Status:
    """Commit the redemption: once, within the window around the session's start."""
    purchase = services.voucher_redeem(
        institution=request_partner(request), code=data.code, session_id=data.session_id
    )
    return Status(200, _voucher_out(purchase))


@router.post(
    "/vouchers/attendance", response={201: VoucherOut}, auth=PartnerAuth(scopes=["attendance:write"])
)
@idempotent(owner_of=partner_owner)
def attendance_report(request: HttpRequest, data: AttendanceIn) -> Status:
    """Report that the participant attended (a session), with how it was checked."""
    institution = request_partner(request)
    attendance = services.attendance_report(
        institution=institution,
        code=data.code,
        started_at=data.started_at,
        ended_at=data.ended_at,
        method=data.method,
        evidence=data.evidence,
        session_id=data.session_id,
    )
    return Status(201, _voucher_out(attendance.purchase))


@router.post(
    "/vouchers/post-test", response={200: VoucherOut}, auth=PartnerAuth(scopes=["completions:write"])
)
@idempotent(owner_of=partner_owner)
def post_test_report(request: HttpRequest, data: PostTestIn) -> Status:
    """Report the post-test score (0-100)."""
    purchase = services.post_test_report(
        institution=request_partner(request), code=data.code, score=data.score
    )
    return Status(200, _voucher_out(purchase))


@router.post(
    "/vouchers/completion", response={201: CertificateOut}, auth=PartnerAuth(scopes=["completions:write"])
)
@idempotent(owner_of=partner_owner)
def completion_report(request: HttpRequest, data: VoucherIn) -> Status:
    """Report completion: the certificate is issued and its public verification address returned."""
    certificate = services.completion_report(institution=request_partner(request), code=data.code)
    return Status(
        201,
        {
            "purchase_id": certificate.purchase_id,
            "certificate_code": certificate.code,
            "verify_url": selectors.verify_url(certificate.code),
        },
    )
