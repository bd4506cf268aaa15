"""Enrolment reads: certificate verification and its PDF, a participant's trainings, a partner's sales and
participants, and the programme office's totals and implausible completions."""

import base64
import binascii
import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from prakerja.catalog.models import Review
from prakerja.enrolment import rules
from prakerja.enrolment.models import Attendance, Certificate, Purchase, PurchaseStatus
from prakerja.enrolment.services import ESCROW_PREFIX, public_key_b64
from prakerja.ledger.models import Account
from prakerja.partners.models import Partner
from prakerja.registry.models import Applicant

PROGRAMME_NAME = "Program Kartu Prakerja"
SOLD = (PurchaseStatus.PAID, PurchaseStatus.REDEEMED, PurchaseStatus.COMPLETED)
REDEEMED = (PurchaseStatus.REDEEMED, PurchaseStatus.COMPLETED)


# --- certificates ---------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """'Siti Rahmawati Putri' -> 'Siti R******** P****': enough to recognise, not enough to identify.

    A one-word name keeps only its first letter, or the mask would show the whole name.
    """
    words = name.split()
    masked = [word[:1] + "*" * (len(word) - 1) for word in words]
    if len(words) > 1:
        masked[0] = words[0]
    return " ".join(masked)


@dataclass(frozen=True)
class CertificateCheck:
    """What the public verification page may show about a certificate code."""

    code: str
    found: bool
    valid: bool = False
    masked_name: str = ""
    training: str = ""
    institution: str = ""
    completed_on: date | None = None
    issued_at: datetime | None = None
    signature: str = ""


def _certificate(code: str) -> Certificate | None:
    return (
        Certificate.objects.select_related(
            "purchase__training", "purchase__institution", "purchase__card__applicant"
        )
        .filter(code=rules.normal_code(code)[:16])
        .first()
    )


def signature_holds(certificate: Certificate) -> bool:
    """Rebuild the signed text from the stored data and check the signature against the published key."""
    text = rules.certificate_text(
        code=certificate.code,
        name=certificate.holder_name,
        training=certificate.training_title,
        institution=certificate.institution_name,
        completed_on=certificate.completed_on.isoformat(),
    )
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64()))
    try:
        key.verify(base64.b64decode(certificate.signature, validate=True), text)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def certificate_verify(code: str) -> CertificateCheck:
    """The public answer for a certificate code: valid only if it exists, its training was completed and
    the signature holds over the data stored today."""
    certificate = _certificate(code)
    if certificate is None:
        return CertificateCheck(code=rules.normal_code(code)[:16], found=False)
    purchase = certificate.purchase
    return CertificateCheck(
        code=certificate.code,
        found=True,
        valid=purchase.status == PurchaseStatus.COMPLETED and signature_holds(certificate),
        masked_name=mask_name(certificate.holder_name),
        training=certificate.training_title,
        institution=certificate.institution_name,
        completed_on=certificate.completed_on,
        issued_at=certificate.issued_at,
        signature=certificate.signature,
    )


def certificate_of(*, applicant: Applicant, code: str) -> Certificate | None:
    """The participant's own certificate with this code; someone else's is None, like an unknown one."""
    certificate = _certificate(code)
    if certificate is None or certificate.purchase.card.applicant_id != applicant.pk:
        return None
    return certificate


def verify_url(code: str) -> str:
    """The absolute address of a certificate's public verification page, printed on it as a QR code."""
    path = reverse("enrolment:verify", kwargs={"code": code})
    return settings.PRAKERJA_PUBLIC_URL.rstrip("/") + path


def _latin1(text: str) -> str:
    """Text the PDF core fonts can draw: letters with accents outside Latin-1 lose the accent, anything
    else becomes '?', so no name ever stops a certificate from printing."""
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            ch = "".join(c for c in base if not unicodedata.combining(c)) or "?"
        out.append(ch)
    return "".join(out)


def certificate_pdf(certificate: Certificate) -> bytes:
    """The certificate as an A4 landscape PDF with its code, a QR code of its verification page and the
    signature.

    The labels are fixed and bilingual on purpose: a certificate reads the same whoever downloads it.
    """
    url = verify_url(certificate.code)
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"Sertifikat Prakerja {certificate.code}")
    pdf.set_author(PROGRAMME_NAME)
    pdf.set_subject(url)
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_draw_color(1, 114, 173)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)

    def line(text: str, size: float, style: str = "", height: float = 0, gap: float = 2) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.multi_cell(
            width, height or size * 0.5, _latin1(text), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(gap)

    pdf.set_y(22)
    line(PROGRAMME_NAME.upper(), 14, "B", gap=4)
    line("Sertifikat / Certificate", 30, "B", gap=8)
    line("Diberikan kepada / Awarded to", 11)
    line(certificate.holder_name, 26, "B", gap=6)
    line("atas penyelesaian pelatihan / for completing the training", 11)
    line(certificate.training_title, 18, "B", gap=4)
    line(f"Lembaga pelatihan / Training institution: {certificate.institution_name}", 12)
    line(f"Tanggal selesai / Completed on: {certificate.completed_on.strftime('%d-%m-%Y')}", 12, gap=4)
    line(f"Kode sertifikat / Certificate code: {certificate.code}", 13, "B")

    qr = io.BytesIO()
    segno.make(url, error="m").save(qr, kind="png", scale=8, border=2)
    qr.seek(0)
    size, left, top = 38.0, pdf.w - 20 - 38.0, pdf.h - 20 - 38.0 - 12
    pdf.image(qr, x=left, y=top, w=size, h=size, link=url)
    pdf.set_font("Helvetica", size=6)
    pdf.set_xy(left - 5, top + size + 1)
    pdf.cell(size + 10, 3, "Pindai untuk memeriksa / Scan to verify", align="C", link=url)

    pdf.set_xy(20, pdf.h - 20 - 22)
    pdf.set_font("Helvetica", size=7)
    small = width - size - 10
    below: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    pdf.multi_cell(small, 3.5, _latin1(f"Periksa keaslian / Verify: {url}"), link=url, **below)
    pdf.multi_cell(
        small,
        3.5,
        _latin1(f"Tanda tangan Ed25519 / Ed25519 signature (base64): {certificate.signature}"),
        **below,
    )
    pdf.multi_cell(small, 3.5, _latin1(f"Kunci publik / Public key: {public_key_b64()}"), **below)
    return bytes(pdf.output())


# --- participants ---------------------------------------------------------------------------------------


@dataclass
class OwnPurchase:
    """One row of a participant's trainings, with what they may still do with it."""

    purchase: Purchase
    opens: datetime | None
    closes: datetime | None
    withdraw_until: datetime
    may_cancel: bool
    may_rate: bool
    attended: int
    attended_hours: float
    certificate: Certificate | None = None
    review: Review | None = None


def own_purchases(applicant: Applicant) -> QuerySet[Purchase]:
    """The participant's purchases, and only theirs: every participant page starts here."""
    return Purchase.objects.filter(card__applicant=applicant)


def redeem_window(purchase: Purchase) -> tuple[datetime | None, datetime | None]:
    """When the voucher may be redeemed: around its session (the one redeemed, else the next whose window is
    still open), or for a training without a session in a place from the purchase; None once all closed."""
    after = timedelta(hours=settings.PRAKERJA_REDEEM_AFTER_HOURS)
    session = purchase.redeemed_session
    if session is None:
        # As voucher_redeem: only sessions held in a place must be named; the others redeem like online.
        placed = sorted(
            (s for s in purchase.training.sessions.all() if s.village_code), key=lambda s: s.starts_at
        )
        still_open = [s for s in placed if s.starts_at + after >= timezone.now()]
        if placed and not still_open:
            return None, None
        session = still_open[0] if still_open else None
    return rules.redeem_window(
        session_start=session.starts_at if session else None,
        purchased_at=purchase.created_at,
        before=timedelta(hours=settings.PRAKERJA_REDEEM_BEFORE_HOURS),
        after=after,
        online=timedelta(days=settings.PRAKERJA_ONLINE_REDEEM_DAYS),
    )


def participant_trainings(applicant: Applicant) -> list[OwnPurchase]:
    """The participant's purchases, newest first, each with its window, attendance and certificate."""
    now = timezone.now()
    window = timedelta(days=settings.PRAKERJA_WITHDRAWAL_DAYS)
    purchases = (
        own_purchases(applicant)
        .select_related("training", "platform", "institution", "redeemed_session", "certificate")
        .prefetch_related("training__sessions", "attendances")
        .order_by("-created_at", "-pk")
    )
    reviews = {r.training_id: r for r in Review.objects.filter(applicant=applicant)}
    rows = []
    for purchase in purchases:
        opens, closes = redeem_window(purchase)
        attendances = list(purchase.attendances.all())
        review = reviews.get(purchase.training_id)
        rows.append(
            OwnPurchase(
                purchase=purchase,
                opens=opens,
                closes=closes,
                withdraw_until=purchase.created_at + window,
                may_cancel=purchase.status == PurchaseStatus.PAID
                and rules.may_withdraw(purchased_at=purchase.created_at, now=now, window=window),
                may_rate=purchase.status == PurchaseStatus.COMPLETED and review is None,
                attended=len(attendances),
                attended_hours=round(
                    sum((a.ended_at - a.started_at).total_seconds() for a in attendances) / 3600, 1
                ),
                certificate=getattr(purchase, "certificate", None),
                review=review,
            )
        )
    return rows


# --- partners -------------------------------------------------------------------------------------------


def partner_totals(partner: Partner) -> dict[str, Any]:
    """A platform's sales or an institution's enrolments, counted and summed over all statuses."""
    rows = Purchase.objects.filter(Q(platform=partner) | Q(institution=partner))
    return rows.aggregate(
        count=Count("pk"),
        sold=Count("pk", filter=Q(status__in=SOLD)),
        sold_value=Sum("price", filter=Q(status__in=SOLD), default=0),
        redeemed=Count("pk", filter=Q(status__in=REDEEMED)),
        redeemed_value=Sum("price", filter=Q(status__in=REDEEMED), default=0),
        completed=Count("pk", filter=Q(status=PurchaseStatus.COMPLETED)),
        cancelled=Count("pk", filter=Q(status=PurchaseStatus.CANCELLED)),
    )


def platform_sales(platform: Partner, *, status: str = "") -> QuerySet[Purchase]:
    """A platform's own sales, filtered by status, newest first."""
    rows = Purchase.objects.filter(platform=platform)
    rows = rows.filter(status=status) if status else rows
    return rows.select_related("training", "institution", "card").order_by("-created_at", "-pk")


def institution_participants(institution: Partner, *, status: str = "") -> QuerySet[Purchase]:
    """The purchases of an institution's own trainings: who is enrolled and how far they got."""
    rows = Purchase.objects.filter(institution=institution)
    rows = rows.filter(status=status) if status else rows
    return (
        rows.select_related("training", "card__applicant", "certificate")
        .annotate(attended=Count("attendances"))
        .order_by("-created_at", "-pk")
    )


# --- the programme office -------------------------------------------------------------------------------


def purchase_totals(by: str) -> list[dict[str, Any]]:
    """Purchases and completions per platform (`by="platform"`) or per institution, counts and rupiah."""
    if by not in ("platform", "institution"):
        raise ValueError(by)
    rows: Any = (
        Purchase.objects.values(partner_id=F(f"{by}_id"), name=F(f"{by}__name"))
        .annotate(
            count=Count("pk"),
            sold=Count("pk", filter=Q(status__in=SOLD)),
            sold_value=Sum("price", filter=Q(status__in=SOLD), default=0),
            redeemed=Count("pk", filter=Q(status__in=REDEEMED)),
            redeemed_value=Sum("price", filter=Q(status__in=REDEEMED), default=0),
            completed=Count("pk", filter=Q(status=PurchaseStatus.COMPLETED)),
            completed_value=Sum("price", filter=Q(status=PurchaseStatus.COMPLETED), default=0),
            cancelled=Count("pk", filter=Q(status=PurchaseStatus.CANCELLED)),
        )
        .order_by("-sold_value", "name")
    )
    return list(rows)


@dataclass(frozen=True)
class Implausible:
    """A completed purchase and why its completion looks impossible (codes of rules.completion_problems)."""

    purchase: Purchase
    problems: list[str]


def implausible_completions(*, since: datetime, limit: int = 500) -> list[Implausible]:
    """Completions since `since` that look impossible (rules.completion_problems), newest first."""
    found: list[Implausible] = []
    completed = (
        Purchase.objects.filter(status=PurchaseStatus.COMPLETED, completed_at__gte=since)
        .select_related("training", "platform", "institution")
        .prefetch_related(Prefetch("attendances", queryset=Attendance.objects.order_by("started_at")))
        .order_by("-completed_at", "-pk")
    )
    for purchase in completed.iterator(chunk_size=500):
        if purchase.completed_at is None:
            continue
        problems = rules.completion_problems(
            # Services never complete an unredeemed voucher; should one appear, measure it from the purchase.
            redeemed_at=purchase.redeemed_at or purchase.created_at,
            completed_at=purchase.completed_at,
            hours=purchase.training.hours,
            attended=[(a.started_at, a.ended_at) for a in purchase.attendances.all()],
        )
        if problems:
            found.append(Implausible(purchase=purchase, problems=problems))
            if len(found) >= limit:
                break
    return found


def escrow_balance() -> int:
    """What all unredeemed vouchers hold, over the escrow accounts."""
    total = Account.objects.filter(code__startswith=ESCROW_PREFIX).aggregate(total=Sum("balance"))["total"]
    return int(total or 0)
