"""Payment reads: the books' invariants, a participant's benefits, the money page, the benefits report."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from prakerja.core.checks import breaches
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.ledger.models import JournalEntry, Posting
from prakerja.ledger.selectors import balance_or_zero
from prakerja.payments.models import (
    LIVE_STATES,
    AccountStatus,
    Batch,
    Chunk,
    Entitlement,
    EntitlementKind,
    EntitlementStatus,
    Payment,
    PaymentState,
    PayoutAccount,
    Provider,
    Statement,
    StatementLine,
)
from prakerja.payments.services import (
    OWED_ACCOUNT,
    PAID_ACCOUNT,
    PLATFORMS_PAID_ACCOUNT,
    SETTLEMENT_ACCOUNT,
    transit_account,
)
from prakerja.registry.models import Applicant
from prakerja.waves.models import Card


def _sum(queryset: Any, column: str = "amount") -> int:
    return int(queryset.aggregate(total=Coalesce(Sum(column), 0))["total"])


def payments_check() -> list[str]:
    """Every breach of the payment books' invariants; part of `prakerja ledger check`."""
    problems = []
    sent = Payment.objects.filter(state=PaymentState.SENT)
    owed = _sum(Entitlement.objects.filter(status=EntitlementStatus.OWED)) - _sum(sent)
    if balance_or_zero(OWED_ACCOUNT) != owed:
        problems.append(
            f"{OWED_ACCOUNT} shows {balance_or_zero(OWED_ACCOUNT)} "
            f"but owed entitlements not in transit sum to {owed}"
        )
    for provider in Provider.values:
        in_transit = _sum(sent.filter(provider=provider))
        if balance_or_zero(transit_account(provider)) != in_transit:
            problems.append(
                f"{transit_account(provider)} shows {balance_or_zero(transit_account(provider))} "
                f"but payments sent to {provider} sum to {in_transit}"
            )
    paid = _sum(Payment.objects.filter(state=PaymentState.PAID))
    if balance_or_zero(PAID_ACCOUNT) != paid:
        problems.append(
            f"{PAID_ACCOUNT} shows {balance_or_zero(PAID_ACCOUNT)} but paid payments sum to {paid}"
        )
    entitled_paid = _sum(Entitlement.objects.filter(status=EntitlementStatus.PAID))
    if entitled_paid != paid:
        problems.append(f"paid entitlements sum to {entitled_paid} but paid payments to {paid}")
    unpaid = Entitlement.objects.filter(status=EntitlementStatus.PAID).exclude(
        Exists(Payment.objects.filter(entitlement=OuterRef("pk"), state=PaymentState.PAID))
    )
    problems += breaches(unpaid, "pk", "entitlement {} is marked paid without a paid payment")
    twice = (
        Payment.objects.filter(state__in=LIVE_STATES)
        .values("entitlement_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by()
    )
    problems += breaches(twice, "entitlement_id", "entitlement {} has more than one live payment")
    # A payment's links have no database-level constraints (see Payment): checked here instead.
    astray = Payment.objects.exclude(
        Exists(Chunk.objects.filter(pk=OuterRef("chunk_id"), provider=OuterRef("provider")))
    )
    problems += breaches(astray, "key", "payment {} is not in a chunk of its provider")
    orphaned = Payment.objects.exclude(Exists(Entitlement.objects.filter(pk=OuterRef("entitlement_id"))))
    problems += breaches(orphaned, "key", "payment {} names an entitlement that does not exist")
    unverified = Payment.objects.exclude(
        Exists(
            PayoutAccount.objects.filter(
                pk=OuterRef("account_id"),
                applicant_id=OuterRef("entitlement__applicant_id"),
                verified_at__isnull=False,
            )
        )
    )
    problems += breaches(unverified, "key", "payment {} went to an account not verified as its payee's")
    unbooked = Payment.objects.filter(settled_entry_id__isnull=False).exclude(
        Exists(JournalEntry.objects.filter(pk=OuterRef("settled_entry_id")))
    )
    problems += breaches(unbooked, "key", "payment {} names a settling entry that does not exist")
    wrong_amount = Payment.objects.exclude(amount=F("entitlement__amount"))
    problems += breaches(wrong_amount, "key", "payment {} differs in amount from its entitlement")
    booked = dict(
        Entitlement.objects.values("entry_id").annotate(total=Sum("amount")).values_list("entry_id", "total")
    )
    posted = dict(
        Posting.objects.filter(entry_id__in=booked, account__code=OWED_ACCOUNT).values_list(
            "entry_id", "amount"
        )
    )
    problems += [
        f"entry {entry} moved {posted.get(entry, 0)} to {OWED_ACCOUNT} but its entitlements sum to {total}"
        for entry, total in booked.items()
        if posted.get(entry, 0) != total
    ]
    scheme = "card__entry__wave__scheme__"
    beyond = Entitlement.objects.filter(
        Q(kind=EntitlementKind.INCENTIVE)
        & (Q(sequence__gt=F(scheme + "incentive_instalments")) | ~Q(amount=F(scheme + "incentive_amount")))
        | Q(kind=EntitlementKind.SURVEY)
        & (Q(sequence__gt=F(scheme + "survey_count")) | ~Q(amount=F(scheme + "survey_incentive")))
    )
    problems += breaches(beyond, "pk", "entitlement {} is beyond what its scheme allows")
    mismatched = Entitlement.objects.exclude(applicant_id=F("card__applicant_id"))
    problems += breaches(mismatched, "pk", "entitlement {} names another person's card")
    for statement in Statement.objects.annotate(
        lines_gross=Coalesce(Sum("lines__price"), 0), lines_fee=Coalesce(Sum("lines__commission"), 0)
    ):
        if (statement.lines_gross, statement.lines_fee) != (statement.gross, statement.commission):
            problems.append(f"statement {statement.pk} differs from its lines")
        if statement.commission * 10_000 > statement.gross * statement.commission_cap_bp:
            problems.append(f"statement {statement.pk} gives a commission above the cap")
    open_statements = _sum(Statement.objects.filter(paid_at__isnull=True), "gross")
    if balance_or_zero(SETTLEMENT_ACCOUNT) != open_statements:
        problems.append(
            f"{SETTLEMENT_ACCOUNT} differs from the statements not yet transferred ({open_statements})"
        )
    transferred = _sum(Statement.objects.filter(paid_at__isnull=False), "gross")
    if balance_or_zero(PLATFORMS_PAID_ACCOUNT) != transferred:
        problems.append(f"{PLATFORMS_PAID_ACCOUNT} differs from the statements transferred ({transferred})")
    lines_not_completed = StatementLine.objects.exclude(purchase__status=PurchaseStatus.COMPLETED).count()
    if lines_not_completed:
        problems.append(f"{lines_not_completed} statement lines are for trainings not completed")
    return problems


def payout_account(applicant: Applicant) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(applicant=applicant, status=AccountStatus.VERIFIED).first()


@dataclass
class Benefits:
    """What a participant received and is owed, for their page."""

    training_balance: int = 0
    training_spent: int = 0
    incentives_paid: int = 0
    surveys_paid: int = 0
    owed: int = 0
    scheme_total: int = 0
    entitlements: list[Any] = field(default_factory=list)

    @property
    def received(self) -> int:
        return self.training_spent + self.incentives_paid + self.surveys_paid


def benefits_of(applicant: Applicant) -> Benefits | None:
    card = Card.objects.filter(applicant=applicant).select_related("entry__wave__scheme").first()
    if card is None:
        return None
    scheme = card.entry.wave.scheme
    rows = list(
        Entitlement.objects.filter(applicant=applicant)
        .annotate(
            payment_state=Subquery(
                Payment.objects.filter(entitlement=OuterRef("pk")).order_by("-pk").values("state")[:1]
            )
        )
        .order_by("kind", "sequence")
    )
    paid: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.status == EntitlementStatus.PAID:
            paid[row.kind] += row.amount
    return Benefits(
        training_balance=scheme.training_balance,
        training_spent=_sum(
            Purchase.objects.filter(card=card).exclude(status=PurchaseStatus.CANCELLED), "price"
        ),
        incentives_paid=paid[EntitlementKind.INCENTIVE],
        surveys_paid=paid[EntitlementKind.SURVEY],
        owed=sum(r.amount for r in rows if r.status == EntitlementStatus.OWED),
        scheme_total=scheme.total_per_recipient,
        entitlements=rows,
    )


def benefits_report(*, wave: int | None = None) -> dict[str, dict[str, Any]]:
    """Per scheme, how many card holders received each total of benefit: training spent + incentives paid +
    survey incentives paid."""
    spent = (
        Purchase.objects.filter(card=OuterRef("pk"))
        .exclude(status=PurchaseStatus.CANCELLED)
        .values("card")
        .annotate(total=Sum("price"))
        .values("total")
    )
    paid = (
        Entitlement.objects.filter(card=OuterRef("pk"), status=EntitlementStatus.PAID)
        .values("card")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    cards = Card.objects.all()
    if wave is not None:
        cards = cards.filter(entry__wave__number=wave)
    rows = cards.annotate(
        spent=Coalesce(Subquery(spent, output_field=IntegerField()), Value(0)),
        paid=Coalesce(Subquery(paid, output_field=IntegerField()), Value(0)),
    ).values_list("entry__wave__scheme__code", "spent", "paid")
    report: dict[str, dict[str, Any]] = {}
    for scheme, spent_, paid_ in rows.iterator(chunk_size=5_000):
        entry = report.setdefault(scheme, {"participants": 0, "totals": defaultdict(int)})
        entry["participants"] += 1
        entry["totals"][str(spent_ + paid_)] += 1
    return {
        scheme: {
            "participants": r["participants"],
            "totals": dict(sorted(r["totals"].items(), key=lambda kv: -int(kv[0]))),
        }
        for scheme, r in sorted(report.items())
    }


MONEY_COLUMNS = ("scheduled", "due", "sent", "paid", "failed", "returned")


def money_summary(*, wave: int | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Per wave and province: incentives scheduled (not yet due), due (not yet sent), sent (outcome awaited),
    paid, failed (to be tried again) and returned, in rupiah."""
    today = today or timezone.localdate()
    where = "card__entry__wave__number"
    province = "applicant__province_code"
    entitlements = Entitlement.objects.all()
    payments = Payment.objects.all()
    if wave is not None:
        entitlements = entitlements.filter(**{where: wave})
        payments = payments.filter(**{"entitlement__" + where: wave})
    table: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(MONEY_COLUMNS, 0))
    in_flight = Exists(Payment.objects.filter(entitlement=OuterRef("pk"), state=PaymentState.SENT))
    for key, column in (("scheduled", Q(due_on__gt=today)), ("due", Q(due_on__lte=today) & ~in_flight)):
        for w, p, total in (
            entitlements.filter(column, status=EntitlementStatus.OWED)
            .values(where, province)
            .annotate(total=Sum("amount"))
            .values_list(where, province, "total")
        ):
            table[(w, p)][key] += total
    for w, p, state, total in (
        payments.filter(state__in=["sent", "paid", "failed", "returned"])
        .values("entitlement__" + where, "entitlement__" + province, "state")
        .annotate(total=Sum("amount"))
        .values_list("entitlement__" + where, "entitlement__" + province, "state", "total")
    ):
        table[(w, p)][state] += total
    return [{"wave": w, "province": p, **table[(w, p)]} for w, p in sorted(table)]


def held_back(*, today: date | None = None) -> dict[str, int]:
    """Owed entitlements already due that no batch can pay, because their participant has no verified
    payout account: how many, and how much."""
    today = today or timezone.localdate()
    verified = PayoutAccount.objects.filter(applicant=OuterRef("applicant_id"), status=AccountStatus.VERIFIED)
    due = Entitlement.objects.filter(status=EntitlementStatus.OWED, due_on__lte=today)
    rows = due.filter(~Exists(verified))
    totals = rows.aggregate(n=Count("pk"), total=Coalesce(Sum("amount"), 0))
    return {"count": totals["n"], "total": totals["total"]}


def batches() -> Any:
    return Batch.objects.annotate(
        unacknowledged=Count("chunks", filter=Q(chunks__acknowledged_at__isnull=True))
    ).order_by("-pk")
