"""Payment writes: payout accounts, incentive entitlements, disbursement batches (build, approve, send,
resume), provider outcomes (callbacks and settlement files) and platform statements.

Money moves in the ledger between control accounts; each row here names the entry that moved it:
  programme:fund --entitlement--> owed:incentives --chunk sent--> transit:<provider> --paid--> paid:incentives
  transit --failed--> owed (tried again later)    owed --given up--> fund    paid --returned--> fund
  payable:platform:<id> --statement--> settlement:platforms --transferred--> paid:platforms
"""

import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prakerja.accounts.models import Purpose
from prakerja.accounts.services import otp_send, otp_verify
from prakerja.catalog.models import Review
from prakerja.core.audit import audit_record, rows_digest
from prakerja.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PrakerjaError
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.enrolment.services import payable_account
from prakerja.ledger.services import account_open, balances_lock, entry_post
from prakerja.partners.models import Agreement, Partner
from prakerja.partners.rules import DEFAULT_COMMISSION_CAP_BP, commission
from prakerja.payments import rules
from prakerja.payments.models import (
    AccountStatus,
    Batch,
    BatchStatus,
    Callback,
    CallbackOutcome,
    Chunk,
    Discrepancy,
    DiscrepancyKind,
    Entitlement,
    EntitlementKind,
    EntitlementStatus,
    Payment,
    PaymentState,
    PayoutAccount,
    Provider,
    Reconciliation,
    Statement,
    StatementLine,
)
from prakerja.payments.providers import AccountQuery, Instruction, providers
from prakerja.registry.models import Applicant
from prakerja.surveys.models import Invitation
from prakerja.waves.models import Scheme
from prakerja.waves.services import FUND_ACCOUNT

log = logging.getLogger(__name__)

OWED_ACCOUNT = "owed:incentives"
PAID_ACCOUNT = "paid:incentives"
SETTLEMENT_ACCOUNT = "settlement:platforms"
PLATFORMS_PAID_ACCOUNT = "paid:platforms"
ROWS = 5_000  # entitlements booked per journal entry, payments read per round trip


def transit_account(provider: str) -> str:
    return f"transit:{provider}"


def accounts_ready() -> None:
    """Open the control accounts (idempotent)."""
    account_open(code=OWED_ACCOUNT, name="Incentives owed to participants")
    account_open(code=PAID_ACCOUNT, name="Incentives paid to participants")
    account_open(code=SETTLEMENT_ACCOUNT, name="Training fees on issued platform statements")
    account_open(code=PLATFORMS_PAID_ACCOUNT, name="Training fees transferred to platforms")
    for provider in Provider.values:
        account_open(code=transit_account(provider), name=f"Payments handed to {provider}, outcome awaited")


# --- Payout accounts -----------------------------------------------------------------------------


class PayoutAccountInvalid(InvalidInput):
    code = "payout_account_invalid"
    message = _("The payout account cannot be used: %(reasons)s.")


class PayoutAccountRefused(Conflict):
    code = "payout_account_refused"
    keeps_writes = True  # the refused attempt stays on record
    message = _("The provider could not confirm this account belongs to you: %(reason)s.")


class CodeNeeded(PrakerjaError):
    status = 403
    code = "code_needed"
    message = _("Changing your payout account needs the code we just sent to your phone.")


_NUMBER_PROBLEMS = {
    "digits": _("An account number has digits only."),
    "bank_length": _("A BNI account number has 10 digits."),
    "wallet_phone": _("An e-wallet is identified by its phone number: 08 and 10 to 13 digits."),
}
_REFUSALS = {
    "not_found": _("the provider knows no such account"),
    "name_mismatch": _("the account holder's name differs from your registered name"),
    "nik_mismatch": _("the account is registered to another NIK"),
}


def payout_account_code_send(*, applicant: Applicant) -> None:
    """Send the one-time code that a change of payout account needs."""
    if applicant.user is None:
        raise NotFound()
    otp_send(user=applicant.user, purpose=Purpose.PAYOUT_ACCOUNT)


def payout_account_set(*, applicant: Applicant, provider: str, number: str, code: str = "") -> PayoutAccount:
    """Link a bank account or e-wallet after the provider confirms name and NIK; a change needs a fresh code.

    The provider is asked first; nothing is written when it cannot be reached. A refused account is kept (as
    rejected, so the attempt is on record) and the current account stays in force."""
    number = "".join(number.split())
    problems = []
    if provider not in Provider.values:
        problems.append(
            {"field": "provider", "code": "unknown", "message": str(_("Choose a bank or e-wallet."))}
        )
    elif problem := rules.account_number_problem(provider, number):
        problems.append({"field": "number", "code": problem, "message": str(_NUMBER_PROBLEMS[problem])})
    if problems:
        raise PayoutAccountInvalid(reasons="; ".join(p["message"] for p in problems), problems=problems)
    current = PayoutAccount.objects.filter(applicant=applicant, status=AccountStatus.VERIFIED).first()
    if current is not None and not code:
        raise CodeNeeded()
    answer = providers().inquire(
        AccountQuery(provider=provider, number=number, name=applicant.full_name, nik=applicant.nik)
    )
    if current is not None:
        assert applicant.user is not None
        # After the provider answered, so a code is not used up when the provider cannot be reached.
        otp_verify(user=applicant.user, purpose=Purpose.PAYOUT_ACCOUNT, code=code)  # counts a wrong try
    now = timezone.now()
    with transaction.atomic():
        verified = answer.status == "match"
        if verified and current is not None:
            PayoutAccount.objects.filter(pk=current.pk, status=AccountStatus.VERIFIED).update(
                status=AccountStatus.REPLACED, replaced_at=now
            )
        account = PayoutAccount.objects.create(
            applicant=applicant,
            provider=provider,
            number=number,
            number_last4=number[-4:],
            holder_name=answer.holder_name,
            status=AccountStatus.VERIFIED if verified else AccountStatus.REJECTED,
            reason="" if verified else answer.status,
            reference=answer.reference,
            created_at=now,
            verified_at=now if verified else None,
        )
        audit_record(
            actor=applicant.user or "system",
            action="payments.account_linked" if verified else "payments.account_refused",
            obj=account,
            after={
                "provider": provider,
                "last4": account.number_last4,
                "status": account.status,
                "replaces": current.pk if current and verified else None,
            },
        )
    if not verified:
        raise PayoutAccountRefused(reason=_REFUSALS.get(answer.status, answer.status))
    return account


# --- Entitlements ------------------------------------------------------------------------------


@dataclass
class ScheduleResult:
    incentives: int = 0
    surveys: int = 0
    participants: int = 0


def _book(rows: list[Entitlement], memo: str, actor: Any) -> int:
    """Move the rows' total from the fund to owed:incentives and store them naming that entry, at once."""
    if not rows:
        return 0
    digest = rows_digest((r.applicant_id, r.kind, r.sequence, r.amount) for r in rows)
    total = sum(r.amount for r in rows)
    with transaction.atomic():
        entry = entry_post(
            postings=[(FUND_ACCOUNT, -total), (OWED_ACCOUNT, total)],
            memo=f"{memo} ({len(rows)})",
            actor=actor,
            idempotency_key=f"entitlements:{digest[:40]}",
            audited=False,
        )
        for row in rows:
            row.entry = entry
        Entitlement.objects.bulk_create(rows, batch_size=ROWS)
        audit_record(
            actor=actor,
            action="payments.entitlements_booked",
            obj=entry,
            after={"rows": len(rows), "total": total, "rows_digest": digest},
        )
    return len(rows)


def _first_rated_completions() -> Iterator[tuple[int, int, int, datetime]]:
    """(card, applicant, scheme, moment) of every card holder owed no incentive yet whose first completed
    training is rated; the moment is when both were true (completion, or the rating if later)."""
    rated_at = Review.objects.filter(
        applicant_id=OuterRef("card__applicant_id"), training_id=OuterRef("training_id")
    ).values("created_at")[:1]
    rows = (
        Purchase.objects.filter(status=PurchaseStatus.COMPLETED)
        .filter(
            ~Exists(Entitlement.objects.filter(card_id=OuterRef("card_id"), kind=EntitlementKind.INCENTIVE))
        )
        .annotate(rated_at=Subquery(rated_at))
        .filter(rated_at__isnull=False)
        .order_by("card_id", "completed_at")
        .values_list(
            "card_id", "card__applicant_id", "card__entry__wave__scheme_id", "completed_at", "rated_at"
        )
    )
    last = None
    for card_id, applicant_id, scheme_id, completed_at, rated_at_ in rows.iterator(chunk_size=ROWS):
        if card_id == last:
            continue  # only the first completed training of a card counts
        last = card_id
        yield card_id, applicant_id, scheme_id, max(completed_at, rated_at_)


def _incentives_earned(schemes: dict[int, Scheme], now: datetime) -> Iterator[Entitlement]:
    """The instalments of the post-training incentive of everyone newly owed it."""
    for card_id, applicant_id, scheme_id, moment in _first_rated_completions():
        scheme = schemes[scheme_id]
        if not scheme.incentive_amount:
            continue
        start = timezone.localdate(moment)
        for n, due in enumerate(rules.instalment_dates(start, scheme.incentive_instalments), start=1):
            yield Entitlement(
                applicant_id=applicant_id,
                card_id=card_id,
                kind=EntitlementKind.INCENTIVE,
                sequence=n,
                amount=scheme.incentive_amount,
                due_on=due,
                created_at=now,
            )


def _survey_incentives_earned(schemes: dict[int, Scheme], now: datetime) -> Iterator[Entitlement]:
    """One survey incentive per completed survey not yet booked, up to the scheme's number of surveys."""
    booked = Entitlement.objects.filter(
        applicant_id=OuterRef("applicant_id"), kind=EntitlementKind.SURVEY, sequence=OuterRef("sequence")
    )
    surveys = (
        Invitation.objects.filter(completed_at__isnull=False)
        .filter(~Exists(booked))
        .order_by("pk")
        .values_list("applicant_id", "card_id", "card__entry__wave__scheme_id", "sequence", "completed_at")
    )
    for applicant_id, card_id, scheme_id, sequence, completed_at in surveys.iterator(chunk_size=ROWS):
        scheme = schemes[scheme_id]
        if scheme.survey_incentive and sequence <= scheme.survey_count:
            yield Entitlement(
                applicant_id=applicant_id,
                card_id=card_id,
                kind=EntitlementKind.SURVEY,
                sequence=sequence,
                amount=scheme.survey_incentive,
                due_on=timezone.localdate(completed_at),
                created_at=now,
            )


def _book_all(rows: Iterable[Entitlement], memo: str, actor: Any) -> int:
    """Book the rows ROWS at a time; how many."""
    booked, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= ROWS:
            booked += _book(chunk, memo, actor)
            chunk = []
    return booked + _book(chunk, memo, actor)


def entitlements_schedule(*, actor: Any, now: datetime | None = None) -> ScheduleResult:
    """Book what participants have earned and are owed no entitlement for yet; safe to run again.

    After the first completed and rated training: the scheme's post-training incentive in monthly instalments,
    the first due at once. For each completed survey up to the scheme's number: the survey incentive."""
    now = now or timezone.now()
    accounts_ready()
    schemes = {s.pk: s for s in Scheme.objects.all()}
    result = ScheduleResult()

    def counted(rows: Iterator[Entitlement]) -> Iterator[Entitlement]:
        for row in rows:
            result.participants += row.sequence == 1
            yield row

    result.incentives = _book_all(
        counted(_incentives_earned(schemes, now)), "Post-training incentives earned", actor
    )
    result.surveys = _book_all(_survey_incentives_earned(schemes, now), "Survey incentives earned", actor)
    return result


# --- Disbursement batches ----------------------------------------------------------------------


class BatchEmpty(Conflict):
    code = "batch_empty"
    message = _(
        "No payment is due by %(day)s to a verified payout account: there is nothing to put in a batch."
    )


class BatchWrongState(Conflict):
    code = "batch_wrong_state"
    message = _("Batch %(batch)s is %(status)s; this needs it to be %(needed)s.")


class MakerCannotCheck(Forbidden):
    code = "maker_cannot_check"
    message = _("The officer who built a batch cannot approve it: another finance officer must check it.")


class BatchAltered(Conflict):
    code = "batch_altered"
    message = _("The payments of batch %(batch)s changed after it was built; it cannot be approved.")


def _label(actor: Any) -> str:
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)


def _user(actor: Any) -> Any:
    return actor if hasattr(actor, "get_username") else None


def _require(batch: Batch, *needed: str) -> Batch:
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.status not in needed:
        raise BatchWrongState(
            batch=batch.pk,
            status=BatchStatus(batch.status).label,
            needed=" / ".join(str(BatchStatus(n).label) for n in needed),
        )
    return batch


def _table(model: Any) -> str:
    return str(model._meta.db_table)


def _give_up_after_failures(*, actor: Any) -> int:
    """Entitlements whose payment failed the allowed number of times: the money goes back to the fund."""
    tried = (
        Payment.objects.filter(state__in=[PaymentState.FAILED, PaymentState.RETRIED])
        .values("entitlement_id")
        .annotate(n=Count("id"))
        .filter(n__gte=settings.PAYMENT_MAX_ATTEMPTS)
        .values("entitlement_id")
    )
    with transaction.atomic():
        payments = list(
            Payment.objects.select_for_update()
            .filter(
                state=PaymentState.FAILED,
                entitlement_id__in=tried,
                entitlement__status=EntitlementStatus.OWED,
            )
            .values_list("pk", "entitlement_id", "amount")
        )
        if not payments:
            return 0
        total = sum(amount for _pk, _e, amount in payments)
        entry = entry_post(
            postings=[(OWED_ACCOUNT, -total), (FUND_ACCOUNT, total)],
            memo=f"Incentives returned to the fund after {settings.PAYMENT_MAX_ATTEMPTS} failed payments",
            actor=actor,
            audited=False,
        )
        Payment.objects.filter(pk__in=[p for p, _e, _a in payments]).update(
            state=PaymentState.RETURNED, reason="returned after repeated failures", updated_at=timezone.now()
        )
        Entitlement.objects.filter(pk__in=[e for _p, e, _a in payments]).update(
            status=EntitlementStatus.RETURNED
        )
        audit_record(
            actor=actor,
            action="payments.returned_after_failures",
            obj=entry,
            after={"payments": len(payments), "total": total},
        )
    return len(payments)


def _work_memory(cursor: Any) -> None:
    """On PostgreSQL, room to sort and hash a million rows in memory for the rest of the transaction (the
    server's default of a few megabytes spills them to disk)."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL work_mem = '64MB'")


def _payments_digest(batch: Batch) -> str:
    """SHA-256 of the batch's payments (key, account, amount) in order: what the checker approves."""
    digest = hashlib.sha256()
    rows = batch.payments.order_by("pk").values_list("key", "account_id", "amount")
    for key, account, amount in rows.iterator(chunk_size=ROWS):
        digest.update(f"{key},{account},{amount}\n".encode())
    return digest.hexdigest()


def batch_build(*, actor: Any, due_by: date | None = None) -> Batch:
    """Assemble every payment due by `due_by` to a verified account into a new batch, in provider chunks.

    Set-based: one INSERT … SELECT; an entitlement already in a live payment is left out (and a concurrent
    build collides on the payment key, which is the entitlement and the attempt), so building again adds
    nothing. A failed payment is tried again here with a new key; after the allowed attempts its money returns
    to the fund instead."""
    due_by = due_by or timezone.localdate()
    accounts_ready()
    _give_up_after_failures(actor=actor)
    now = timezone.now()
    payment, entitlement, account, chunk = (_table(m) for m in (Payment, Entitlement, PayoutAccount, Chunk))
    due = f"""
        FROM {entitlement} e
        JOIN {account} a ON a.applicant_id = e.applicant_id AND a.status = 'verified'
        LEFT JOIN (SELECT entitlement_id, COUNT(*) AS n FROM {payment}
                   WHERE state IN ('failed', 'retried') GROUP BY entitlement_id) f ON f.entitlement_id = e.id
        WHERE e.status = 'owed' AND e.due_on <= %s
          AND NOT EXISTS (SELECT 1 FROM {payment} p WHERE p.entitlement_id = e.id
                          AND p.state IN ('pending', 'sent', 'paid'))
    """  # noqa: S608 - table names from the models, values as parameters
    size = settings.PAYMENT_CHUNK_SIZE
    with transaction.atomic():
        batch = Batch.objects.create(
            due_by=due_by, built_by=_user(actor), built_by_label=_label(actor), built_at=now
        )
        with connection.cursor() as cursor:
            _work_memory(cursor)
            cursor.execute(f"SELECT a.provider, COUNT(*) {due} GROUP BY a.provider", [due_by])
            counts = dict(cursor.fetchall())
            if not counts:
                raise BatchEmpty(day=due_by.isoformat())
            chunks = Chunk.objects.bulk_create(
                Chunk(batch=batch, provider=provider, sequence=seq, payment_count=0, total=0)
                for provider, n in sorted(counts.items())
                for seq in range((n + size - 1) // size)
            )
            # Each payment lands in its chunk as it is written: the n-th of its provider in chunk n // size.
            # The chunks are spelled out by one key each, "<provider>:<sequence>": read back from their table
            # (whose statistics do not know them yet) or joined on two columns, the planner compared every
            # payment with every chunk.
            places = " UNION ALL ".join(["SELECT %s AS place, %s AS id"] * len(chunks))
            cursor.execute(
                f"""
                INSERT INTO {payment} (chunk_id, entitlement_id, account_id, provider, amount,
                                       attempt, "key", state, provider_reference, reason, updated_at)
                SELECT c.id, d.eid, d.aid, d.provider, d.amount, d.attempt,
                       'P' || d.eid || '-' || d.attempt, 'pending', '', '', %s
                FROM (SELECT e.id AS eid, a.id AS aid, a.provider, e.amount, 1 + COALESCE(f.n, 0) AS attempt,
                             (ROW_NUMBER() OVER (PARTITION BY a.provider ORDER BY e.id) - 1) / %s AS seq
                      {due}) d
                JOIN ({places}) c ON c.place = d.provider || ':' || d.seq
                ORDER BY d.provider, d.eid
                """,  # noqa: S608 - table names from the models, values as parameters
                [
                    now,
                    size,
                    due_by,
                    *(value for c in chunks for value in (f"{c.provider}:{c.sequence}", c.pk)),
                ],
            )
            cursor.execute(
                f"""
                UPDATE {chunk} SET payment_count = s.n, total = s.total
                FROM (SELECT chunk_id, COUNT(*) AS n, SUM(amount) AS total FROM {payment}
                      WHERE chunk_id IN (SELECT id FROM {chunk} WHERE batch_id = %s) GROUP BY chunk_id) s
                WHERE {chunk}.id = s.chunk_id
                """,  # noqa: S608 - table names from the models, values as parameters
                [batch.pk],
            )
        # Entitlements that fell due or were paid between the count and the insert: no empty chunk stays.
        Chunk.objects.filter(batch=batch, payment_count=0).delete()
        totals = batch.chunks.aggregate(n=Coalesce(Sum("payment_count"), 0), total=Coalesce(Sum("total"), 0))
        if not totals["n"]:
            raise BatchEmpty(day=due_by.isoformat())
        # The failed attempts now tried again.
        Payment.objects.filter(
            state=PaymentState.FAILED,
            entitlement_id__in=batch.payments.values("entitlement_id"),
        ).update(state=PaymentState.RETRIED, updated_at=now)
        batch.payment_count, batch.total = totals["n"], totals["total"]
        batch.digest = _payments_digest(batch)
        batch.save(update_fields=["payment_count", "total", "digest"])
        audit_record(
            actor=actor,
            action="payments.batch_built",
            obj=batch,
            after={
                "due_by": due_by.isoformat(),
                "payments": batch.payment_count,
                "total": batch.total,
                "digest": batch.digest,
            },
        )
    return batch


def batch_approve(*, batch: Batch, actor: Any) -> Batch:
    """The second officer's approval (checker): not the maker, and the payments exactly as built."""
    with transaction.atomic():
        batch = _require(batch, BatchStatus.BUILT)
        user = _user(actor)
        if _label(actor) == batch.built_by_label or (user is not None and user.pk == batch.built_by_id):
            raise MakerCannotCheck()
        if _payments_digest(batch) != batch.digest:
            raise BatchAltered(batch=batch.pk)
        batch.status, batch.approved_by, batch.approved_by_label, batch.approved_at = (
            BatchStatus.APPROVED,
            user,
            _label(actor),
            timezone.now(),
        )
        batch.save(update_fields=["status", "approved_by", "approved_by_label", "approved_at"])
        audit_record(actor=actor, action="payments.batch_approved", obj=batch, after={"digest": batch.digest})
    return batch


@dataclass
class SendResult:
    chunks: int = 0
    payments: int = 0
    resent: int = 0


def _hand_over(chunk: Chunk, actor: Any) -> None:
    """Mark the chunk's payments sent and move their money to the provider's transit account, at once."""
    with transaction.atomic():
        chunk = Chunk.objects.select_for_update().get(pk=chunk.pk)
        if chunk.sent_at is not None:
            return
        entry = entry_post(
            postings=[(OWED_ACCOUNT, -chunk.total), (transit_account(chunk.provider), chunk.total)],
            memo=f"Batch {chunk.batch_id}: chunk {chunk.provider} {chunk.sequence} handed to the provider",
            actor=actor,
            idempotency_key=f"chunk:{chunk.pk}",
            audited=False,
        )
        now = timezone.now()
        moved = Payment.objects.filter(chunk=chunk, state=PaymentState.PENDING).update(
            state=PaymentState.SENT, updated_at=now
        )
        if moved != chunk.payment_count:
            raise BatchAltered(batch=chunk.batch_id)
        chunk.sent_at, chunk.entry = now, entry
        chunk.save(update_fields=["sent_at", "entry"])


def _instructions(chunk: Chunk) -> list[Instruction]:
    rows = (
        Payment.objects.filter(chunk=chunk)
        .order_by("pk")
        .values_list("key", "account__number", "entitlement__applicant__full_name", "amount")
    )
    # A plain fetch: a server-side cursor (iterator) outside a transaction is declared WITH HOLD and planned
    # for its first rows, walking the whole table by primary key for every chunk.
    return [Instruction(key=k, number=n, name=name, amount=a) for k, n, name, a in rows]


def batch_send(*, batch: Batch, actor: Any, progress: Callable[[int, int], None] | None = None) -> SendResult:
    """Send an approved batch chunk by chunk; run again after any interruption to resume it.

    Each chunk is handed over (payments `sent`, money in transit) and committed before its request, then
    acknowledged after the provider's receipt. A chunk handed over but never acknowledged (the process was
    killed, the provider timed out) is sent again with the same chunk and payment keys, which the provider
    recognises: nobody is paid twice."""
    with transaction.atomic():
        batch = _require(batch, BatchStatus.APPROVED, BatchStatus.SENDING)
        if batch.status == BatchStatus.APPROVED:
            batch.status = BatchStatus.SENDING
            batch.save(update_fields=["status"])
            audit_record(actor=actor, action="payments.batch_sending", obj=batch)
    adapter = providers()
    result = SendResult()
    chunks = list(batch.chunks.filter(acknowledged_at__isnull=True).order_by("provider", "sequence"))
    for done, chunk in enumerate(chunks, start=1):
        if chunk.sent_at is None:
            _hand_over(chunk, actor)
        else:
            result.resent += 1
        receipt = adapter.disburse(
            provider=chunk.provider, chunk_key=chunk.key, instructions=_instructions(chunk)
        )
        Chunk.objects.filter(pk=chunk.pk).update(
            acknowledged_at=timezone.now(), provider_reference=receipt.reference
        )
        result.chunks += 1
        result.payments += chunk.payment_count
        if progress:
            progress(done, len(chunks))
    with transaction.atomic():
        batch = _require(batch, BatchStatus.SENDING)
        if not batch.chunks.filter(acknowledged_at__isnull=True).exists():
            batch.status, batch.sent_at = BatchStatus.SENT, timezone.now()
            batch.save(update_fields=["status", "sent_at"])
            audit_record(
                actor=actor, action="payments.batch_sent", obj=batch, after={"chunks": result.chunks}
            )
    return result


# --- Outcomes: callbacks and settlement files ---------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    key: str
    state: str
    reference: str = ""
    reason: str = ""


@dataclass
class Applied:
    """What a set of a provider's outcomes did to the payments."""

    applied: int = 0
    ignored: int = 0  # repeated, or older news than what is known
    unknown: int = 0
    unknown_keys: list[str] = field(default_factory=list)  # the first few, for the log
    conflicting: int = 0  # contradicting what is known (a failure of a paid payment, …)
    amount_differs: int = 0  # settlement lines only
    reported: dict[str, int] = field(default_factory=dict)  # matched outcomes by state
    entry: Any = None


# Outcomes are staged in a temporary table (COPY on PostgreSQL), matched to the payments and their state
# table (rules.transitions) in one join, then applied by one UPDATE … FROM: a million lines in seconds.
STAGED, MATCHED = "payments_outcome_staged", "payments_outcome_matched"
StagedRow = tuple[int | None, str, str, str, str, int | None]  # line, key, state, reference, reason, amount


def _staging_ready(cursor: Any) -> None:
    """The session's two temporary tables, created once and emptied (on PostgreSQL also at every commit)."""
    keep = " ON COMMIT DELETE ROWS" if connection.vendor == "postgresql" else ""
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGED} (line integer, key text, state text, reference text, "
        f"reason text, amount bigint){keep}"
    )
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {MATCHED} (line integer, key text, reported text, reference text, "
        "reason text, stated bigint, payment_id bigint, current text, amount bigint, entitlement_id bigint, "
        f"final text, via_paid integer, via_failed integer, via_returned integer, moves integer){keep}"
    )
    cursor.execute(f"DELETE FROM {STAGED}")  # noqa: S608 - constant names
    cursor.execute(f"DELETE FROM {MATCHED}")  # noqa: S608 - constant names


def _stage(cursor: Any, rows: Iterable[StagedRow]) -> None:
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(
            f"COPY {STAGED} (line, key, state, reference, reason, amount) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {STAGED}")
    else:
        cursor.executemany(f"INSERT INTO {STAGED} VALUES (%s, %s, %s, %s, %s, %s)", list(rows))  # noqa: S608
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {STAGED}_key ON {STAGED} (key)")


class OutcomesRaced(Conflict):
    code = "outcomes_raced"
    message = _("Payments of %(provider)s changed while their outcomes were applied; nothing was applied.")


def _settle(cursor: Any, *, provider: str, actor: Any) -> Applied:
    """Apply the staged outcomes (each key at most once) to the provider's payments, never backwards: paid
    money leaves transit for paid:incentives, failed money goes back to owed (tried again in a later batch),
    returned money goes back to the programme fund and closes its entitlement; one balanced entry.

    The accounts it may post to are locked first, in the order `entry_post` locks them: handing a chunk over
    locks the provider's transit account before it marks the payments sent, so no payment of the provider
    changes state between the match and the update, and neither waits for the other in a circle."""
    balances_lock([transit_account(provider), OWED_ACCOUNT, PAID_ACCOUNT, FUND_ACCOUNT])
    table = [int(value) if isinstance(value, bool) else value for row in rules.transitions() for value in row]
    columns = ("current", "reported", "final", "via_paid", "via_failed", "via_returned")
    row = "SELECT " + ", ".join(f"%s AS {name}" for name in columns)
    states = " UNION ALL ".join([row] * len(rules.transitions()))
    payment = _table(Payment)
    # `moves`: known, of the same amount (when the line states one), allowed from the payment's state, and not
    # old news. Stored, so that the planner knows how many rows it selects.
    cursor.execute(
        f"""
        INSERT INTO {MATCHED}
        SELECT s.line, s.key, s.state, s.reference, s.reason, s.amount, p.id, p.state, p.amount,
               p.entitlement_id, t.final, t.via_paid, t.via_failed, t.via_returned,
               CASE WHEN p.id IS NOT NULL AND (s.amount IS NULL OR s.amount = p.amount)
                         AND t.final IS NOT NULL AND t.final <> p.state THEN 1 ELSE 0 END
        FROM {STAGED} s
        LEFT JOIN {payment} p ON p.key = s.key AND p.provider = %s
        LEFT JOIN ({states}) t ON t.current = p.state AND t.reported = s.state
        """,  # noqa: S608 - table names from the models, values as parameters
        [provider, *table],
    )
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {MATCHED}")
    result = Applied()
    cursor.execute(
        f"""
        SELECT COUNT(*), COALESCE(SUM(CASE WHEN via_paid = 1 THEN amount END), 0),
               COALESCE(SUM(CASE WHEN via_failed = 1 THEN amount END), 0),
               COALESCE(SUM(CASE WHEN via_returned = 1 THEN amount END), 0)
        FROM {MATCHED} WHERE moves = 1
        """  # noqa: S608 - constant names
    )
    result.applied, paid, failed, returned = (int(n) for n in cursor.fetchone())  # PostgreSQL sums: Decimal
    cursor.execute(
        f"""
        SELECT CASE WHEN payment_id IS NULL THEN 'unknown' WHEN stated <> amount THEN 'amount'
                    WHEN final IS NULL THEN 'conflicting' WHEN final = current THEN 'ignored' ELSE '' END,
               reported, COUNT(*)
        FROM {MATCHED} GROUP BY 1, 2
        """  # noqa: S608 - constant names
    )
    for kind, reported, n in cursor.fetchall():
        if kind == "unknown":
            result.unknown += n
        elif kind == "amount":
            result.amount_differs += n
            continue
        else:
            result.reported[reported] = result.reported.get(reported, 0) + n
            result.conflicting += n if kind == "conflicting" else 0
            result.ignored += n if kind == "ignored" else 0
    if result.unknown:
        cursor.execute(f"SELECT key FROM {MATCHED} WHERE payment_id IS NULL ORDER BY line, key LIMIT 5")  # noqa: S608
        result.unknown_keys = [key for (key,) in cursor.fetchall()]
    if not result.applied:
        return result
    postings = [
        (transit_account(provider), -(paid + failed)),
        (OWED_ACCOUNT, failed),
        (PAID_ACCOUNT, paid - returned),
        (FUND_ACCOUNT, returned),
    ]
    if any(amount for _c, amount in postings):
        result.entry = entry_post(
            postings=[(code, amount) for code, amount in postings if amount],
            memo=f"Outcomes of {result.applied} payments from {provider}",
            actor=actor,
            audited=False,
        )
    cursor.execute(
        f"""
        UPDATE {payment} SET state = m.final, reason = m.reason, updated_at = %s, settled_entry_id = %s,
               provider_reference = CASE WHEN m.reference <> '' THEN m.reference
                                         ELSE {payment}.provider_reference END
        FROM {MATCHED} m WHERE {payment}.id = m.payment_id AND {payment}.state = m.current AND m.moves = 1
        """,  # noqa: S608 - table names from the models, values as parameters
        [timezone.now(), result.entry.pk if result.entry else None],
    )
    if cursor.rowcount != result.applied:  # cannot happen under the lock; never book what did not move
        raise OutcomesRaced(provider=provider)
    cursor.execute(
        f"""
        UPDATE {_table(Entitlement)} SET status = m.final FROM {MATCHED} m
        WHERE {_table(Entitlement)}.id = m.entitlement_id AND m.final IN ('paid', 'returned') AND m.moves = 1
        """  # noqa: S608 - table names from the models
    )
    return result


def outcomes_apply(*, provider: str, outcomes: list[Outcome], actor: Any) -> Applied:
    """Apply a provider's reported outcomes in their order (a key reported twice moves twice: a "returned"
    after its "paid" counts as both); audited with the keys that moved."""
    rounds: list[list[Outcome]] = []
    seen: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        n = seen[outcome.key]
        seen[outcome.key] += 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(outcome)
    total = Applied()
    with transaction.atomic(), connection.cursor() as cursor:
        for part in rounds:
            _staging_ready(cursor)
            _stage(cursor, ((None, o.key, o.state, o.reference[:64], o.reason[:100], None) for o in part))
            moved = _settle(cursor, provider=provider, actor=actor)
            cursor.execute(f"SELECT key FROM {MATCHED} WHERE moves = 1 ORDER BY key")  # noqa: S608 - constants
            keys = [key for (key,) in cursor.fetchall()]
            total.applied += moved.applied
            total.ignored += moved.ignored
            total.unknown += moved.unknown
            total.unknown_keys += moved.unknown_keys
            total.conflicting += moved.conflicting
            if moved.applied:
                audit_record(
                    actor=actor,
                    action="payments.outcomes",
                    object_type="payments.provider",
                    object_id=provider,
                    after={
                        "entry": moved.entry.pk if moved.entry else None,
                        "applied": moved.applied,
                        "keys_digest": rows_digest(keys),
                    },
                )
    return total


class CallbackRejected(PrakerjaError):
    status = 401
    code = "callback_rejected"
    message = _("The callback was rejected: %(reason)s.")
    keeps_writes = True  # the rejection is logged


def callback_receive(
    *, timestamp: str, signature: str, body: bytes, remote_addr: str | None = None
) -> Callback:
    """Verify a provider's signed callback, then apply its outcomes; a forged, stale or malformed one is
    refused and logged, and one naming unknown payments is logged with them.

    The body names its provider, whose key must have signed it (docs/payment-providers.md)."""
    now = timezone.now()
    digest = hashlib.sha256(body).hexdigest()
    outcomes: list[Outcome] = []
    try:
        payload = json.loads(body)
        provider = str(payload["provider"])
        events = payload["events"]
    except (ValueError, KeyError, TypeError):
        provider, events, reason = "", None, "malformed body"
    else:
        if provider not in Provider.values:
            reason = "unknown provider"
        else:
            reason = rules.callback_problem(
                rules.provider_key(settings.PAYMENT_PROVIDER_SECRET, provider),
                timestamp,
                signature,
                body,
                int(now.timestamp()),
                settings.PAYMENT_CALLBACK_TOLERANCE_SECONDS,
            )
    if not reason:
        try:
            outcomes = [
                Outcome(
                    key=str(e["key"]),
                    state=str(e["state"]),
                    reference=str(e.get("reference", "")),
                    reason=str(e.get("reason", "")),
                )
                for e in events
            ]
        except (KeyError, TypeError, AttributeError):
            reason = "malformed events"
        else:
            if any(o.state not in rules.OUTCOMES for o in outcomes):
                reason = "an event has an unknown state"
    if reason:
        log.warning("payment callback from %s rejected: %s", provider[:10] or "?", reason)
        Callback.objects.create(
            provider=provider[:8],
            received_at=now,
            outcome=CallbackOutcome.REJECTED,
            reason=reason,
            body_digest=digest,
            remote_addr=remote_addr,
        )
        raise CallbackRejected(reason=reason)
    with transaction.atomic():
        applied = outcomes_apply(provider=provider, outcomes=outcomes, actor=f"provider:{provider}")
        notes = []
        if applied.unknown:
            notes.append(f"{applied.unknown} unknown payment(s): {', '.join(applied.unknown_keys[:5])}")
            log.warning("payment callback from %s names %d unknown payments", provider, applied.unknown)
        if applied.conflicting:
            notes.append(f"{applied.conflicting} outcome(s) contradict the known state")
        callback = Callback.objects.create(
            provider=provider,
            received_at=now,
            outcome=CallbackOutcome.APPLIED if applied.applied else CallbackOutcome.IGNORED,
            reason="; ".join(notes)[:200],
            events=len(outcomes),
            applied=applied.applied,
            body_digest=digest,
            remote_addr=remote_addr,
        )
    return callback


class SettlementUnreadable(InvalidInput):
    code = "settlement_unreadable"
    message = _("The settlement file cannot be read: %(reason)s.")


class AlreadyReconciled(Conflict):
    code = "already_reconciled"
    message = _("This settlement file was already reconciled (reconciliation %(number)s).")


def reconcile(
    *, provider: str, path: Path, actor: Any, progress: Callable[[int], None] | None = None
) -> Reconciliation:
    """Match a provider's settlement file against the payments, all or nothing.

    Outcomes the callbacks never brought are applied; malformed lines, unknown payments, other amounts,
    contradicting states, lines listed twice, and payments sent but absent from the file are listed as
    discrepancies. The same file twice is refused. Set-based: the lines are staged and matched in one join."""
    if provider not in Provider.values:
        raise SettlementUnreadable(reason=f"unknown provider {provider[:10]!r}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    earlier = Reconciliation.objects.filter(provider=provider, file_digest=digest).first()
    if earlier:
        raise AlreadyReconciled(number=earlier.pk)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SettlementUnreadable(reason=f"not UTF-8 (byte {exc.start})") from None
    lines = rules.settlement_fields(text)
    _number, header = next(lines, (0, None))
    if header is None or tuple(h.strip() for h in header) != rules.SETTLEMENT_HEADER:
        raise SettlementUnreadable(reason="the first line must be " + ",".join(rules.SETTLEMENT_HEADER))
    with transaction.atomic(), connection.cursor() as cursor:
        run = Reconciliation.objects.create(
            provider=provider,
            file_name=path.name[:255],
            file_digest=digest,
            run_by_label=_label(actor),
            started_at=timezone.now(),
        )
        issues: list[Discrepancy] = []
        read = 0

        def staged() -> Iterator[StagedRow]:
            """The well-formed lines, each key once; the others become discrepancies."""
            nonlocal read
            seen: set[str] = set()
            for number, fields in lines:
                read += 1
                if progress and read % ROWS == 0:
                    progress(read)
                parsed = rules.settlement_line(fields)
                if isinstance(parsed, str):
                    kind, detail, key = DiscrepancyKind.MALFORMED, parsed, fields[0]
                elif parsed.key in seen:
                    kind, detail, key = DiscrepancyKind.DUPLICATE, "listed again", parsed.key
                else:
                    seen.add(parsed.key)
                    yield number, parsed.key, parsed.state, parsed.reference[:64], "", parsed.amount
                    continue
                issues.append(
                    Discrepancy(
                        reconciliation=run, line=number, payment_key=key[:40], kind=kind, detail=detail[:300]
                    )
                )

        _work_memory(cursor)
        _staging_ready(cursor)
        _stage(cursor, staged())
        applied = _settle(cursor, provider=provider, actor=actor)
        Discrepancy.objects.bulk_create(issues, batch_size=ROWS)
        discrepancy, payment, chunk = _table(Discrepancy), _table(Payment), _table(Chunk)
        cursor.execute(
            f"""
            INSERT INTO {discrepancy} (reconciliation_id, line, payment_key, kind, detail)
            SELECT %s, line, SUBSTR(key, 1, 40),
                   CASE WHEN payment_id IS NULL THEN 'unknown' WHEN stated <> amount THEN 'amount'
                        ELSE 'state' END,
                   CASE WHEN payment_id IS NULL THEN 'no such payment to this provider'
                        WHEN stated <> amount THEN 'ours ' || amount || ', file ' || stated
                        ELSE 'ours ' || current || ', file ' || reported END
            FROM {MATCHED} WHERE payment_id IS NULL OR stated <> amount OR final IS NULL
            ORDER BY line
            """,  # noqa: S608 - table names from the models, values as parameters
            [run.pk],
        )
        # Payments handed over and acknowledged, still without an outcome, that the file does not name.
        cursor.execute(
            f"""
            INSERT INTO {discrepancy} (reconciliation_id, line, payment_key, kind, detail)
            SELECT %s, NULL, p.key, 'missing', 'sent but not in the settlement file'
            FROM {payment} p JOIN {chunk} c ON c.id = p.chunk_id
            WHERE c.provider = %s AND c.acknowledged_at IS NOT NULL AND c.settled_at IS NULL
              AND p.state = 'sent'
              AND NOT EXISTS (SELECT 1 FROM {STAGED} s WHERE s.key = p.key)
            ORDER BY p.id
            """,  # noqa: S608 - table names from the models, values as parameters
            [run.pk, provider],
        )
        missing = cursor.rowcount
        now = timezone.now()
        cursor.execute(
            f"""
            UPDATE {chunk} SET settled_at = %s
            WHERE provider = %s AND acknowledged_at IS NOT NULL AND settled_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM {payment} p WHERE p.chunk_id = {chunk}.id AND p.state = 'sent')
            """,  # noqa: S608 - table names from the models, values as parameters
            [now, provider],
        )
        found = Counter(issue.kind for issue in issues)
        found.update(
            {
                DiscrepancyKind.UNKNOWN: applied.unknown,
                DiscrepancyKind.AMOUNT: applied.amount_differs,
                DiscrepancyKind.STATE: applied.conflicting,
                DiscrepancyKind.MISSING: missing,
                "applied": applied.applied,
                **applied.reported,
            }
        )
        run.lines, run.counts, run.finished_at = read, {k: n for k, n in found.items() if n}, now
        run.save(update_fields=["lines", "counts", "finished_at"])
        audit_record(
            actor=actor,
            action="payments.reconciled",
            obj=run,
            after={"file_digest": digest, "entry": applied.entry.pk if applied.entry else None, **run.counts},
        )
    return run


# --- Platform statements -----------------------------------------------------------------------


def statements_issue(*, period_end: date, actor: Any) -> list[Statement]:
    """For each platform, a statement of its completed trainings not yet on one, up to `period_end`:
    price, the platform's commission within its agreement's cap, the institutions' share. The fees leave the
    platform's payable for settlement:platforms; safe to run again."""
    accounts_ready()
    statements = []
    pending = (
        Purchase.objects.filter(status=PurchaseStatus.COMPLETED, statement_line__isnull=True)
        .filter(completed_at__date__lte=period_end)
        .values("platform_id")
        .annotate(n=Count("id"), first=Min("completed_at"))
        .order_by("platform_id")
    )
    for row in pending:
        platform = Partner.objects.get(pk=row["platform_id"])
        agreement = Agreement.objects.filter(partner=platform).order_by("-signed_on").first()
        cap = agreement.commission_cap_bp if agreement else DEFAULT_COMMISSION_CAP_BP
        with transaction.atomic():
            purchases = list(
                Purchase.objects.select_for_update(of=("self",))
                .filter(
                    platform=platform,
                    status=PurchaseStatus.COMPLETED,
                    statement_line__isnull=True,
                    completed_at__date__lte=period_end,
                )
                .order_by("pk")
                .values_list("pk", "price")
            )
            if not purchases:
                continue
            gross = sum(price for _pk, price in purchases)
            fee = sum(commission(price, cap) for _pk, price in purchases)
            entry = entry_post(
                postings=[(payable_account(platform), -gross), (SETTLEMENT_ACCOUNT, gross)],
                memo=f"Statement of platform {platform.pk} to {period_end.isoformat()}",
                actor=actor,
                idempotency_key=f"statement:{platform.pk}:{period_end.isoformat()}",
                audited=False,
            )
            statement = Statement.objects.create(
                platform=platform,
                period_end=period_end,
                purchases=len(purchases),
                gross=gross,
                commission=fee,
                institutions_share=gross - fee,
                commission_cap_bp=cap,
                entry=entry,
                created_at=timezone.now(),
            )
            StatementLine.objects.bulk_create(
                StatementLine(
                    statement=statement, purchase_id=pk, price=price, commission=commission(price, cap)
                )
                for pk, price in purchases
            )
            audit_record(
                actor=actor,
                action="payments.statement_issued",
                obj=statement,
                after={"entry": entry.pk, "gross": gross, "commission": fee, "purchases": len(purchases)},
            )
        statements.append(statement)
    return statements


class StatementAlreadyPaid(Conflict):
    code = "statement_paid"
    message = _("This statement was already transferred.")


def statement_paid(*, statement: Statement, reference: str, actor: Any) -> Statement:
    """Record the transfer of a statement's fees to the platform."""
    reference = reference.strip()
    if not reference:
        raise InvalidInput(
            problems=[
                {"field": "reference", "code": "missing", "message": str(_("Give the transfer's reference."))}
            ]
        )
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        if statement.paid_at:
            raise StatementAlreadyPaid()
        entry = entry_post(
            postings=[(SETTLEMENT_ACCOUNT, -statement.gross), (PLATFORMS_PAID_ACCOUNT, statement.gross)],
            memo=f"Transfer of statement {statement.pk} to platform {statement.platform_id}",
            actor=actor,
            idempotency_key=f"statement-paid:{statement.pk}",
            audited=False,
        )
        statement.paid_at, statement.paid_reference = timezone.now(), reference[:64]
        statement.save(update_fields=["paid_at", "paid_reference"])
        audit_record(
            actor=actor,
            action="payments.statement_paid",
            obj=statement,
            after={"entry": entry.pk, "reference": reference},
        )
    return statement
