"""prakerja payouts: incentives due, disbursement batches (maker-checker), sending and resuming, provider
outcomes, reconciliation, platform statements, and the provider simulator."""

from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import Progress

from prakerja.accounts.models import User
from prakerja.accounts.permissions import can
from prakerja.core.errors import PrakerjaError
from prakerja.payments import services
from prakerja.payments.models import Batch, Provider, Statement
from prakerja.payments.selectors import batches, held_back
from prakerja.payments.simulator import Simulator, SimulatorConfig


def _officer(username: str) -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or not can(user, "payments.change"):
        raise CommandError(f"{username!r} is not an active finance officer.")
    return user


def _batch(number: int) -> Batch:
    batch = Batch.objects.filter(pk=number).first()
    if batch is None:
        raise CommandError(f"There is no batch {number}.")
    return batch


class Command(BaseCommand):
    help = (
        "Incentive payouts. Subcommands: schedule, build, approve, send, resume, list, reconcile, "
        "statements, statement-paid, simulator."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        sub.add_parser("schedule", help="Book the incentives participants have earned (safe to run again).")
        build = sub.add_parser("build", help="Assemble the payments due into a new batch (the maker).")
        build.add_argument("--user", required=True, help="the finance officer building it")
        build.add_argument("--due-by", type=date.fromisoformat, help="YYYY-MM-DD, default today")
        approve = sub.add_parser("approve", help="Approve a built batch (the checker: another officer).")
        approve.add_argument("batch", type=int)
        approve.add_argument("--user", required=True)
        for name, text in (
            ("send", "Send an approved batch to the providers, chunk by chunk."),
            ("resume", "Resume a batch whose sending was interrupted; nobody is paid twice."),
        ):
            one = sub.add_parser(name, help=text)
            one.add_argument("batch", type=int)
            one.add_argument("--user", required=True)
        sub.add_parser("list", help="Show the batches.")
        reconcile = sub.add_parser(
            "reconcile", help="Match a provider's settlement file against the payments."
        )
        reconcile.add_argument("file", type=Path, nargs="?")
        reconcile.add_argument("--provider", required=True, choices=Provider.values)
        reconcile.add_argument(
            "--fetch", action="store_true", help="fetch the file from the provider instead"
        )
        reconcile.add_argument("--user", required=True)
        statements = sub.add_parser("statements", help="Issue platform statements of completed trainings.")
        statements.add_argument("--period-end", type=date.fromisoformat, help="YYYY-MM-DD, default today")
        statements.add_argument("--user", required=True)
        paid = sub.add_parser("statement-paid", help="Record the transfer of a statement to its platform.")
        paid.add_argument("statement", type=int)
        paid.add_argument("--reference", required=True)
        paid.add_argument("--user", required=True)
        sim = sub.add_parser("simulator", help="Run the payment providers' simulator on loopback.")
        sim.add_argument("--port", type=int, default=8765, choices=range(1, 65536), metavar="PORT")
        sim.add_argument("--callback-url", default="http://127.0.0.1:8000/api/v1/payments/callbacks/")
        sim.add_argument("--failure-rate", type=float, default=0.02)
        sim.add_argument("--return-rate", type=float, default=0.005)
        sim.add_argument("--delay", type=float, default=0.2, help="seconds before the callbacks")
        sim.add_argument("--duplicate-rate", type=float, default=0.0)
        sim.add_argument("--reorder", action="store_true")
        sim.add_argument("--forge-rate", type=float, default=0.0)
        sim.add_argument("--seed", type=int, default=0)
        sim.add_argument("--settlement-dir", type=Path)
        sim.add_argument("--state-file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except PrakerjaError as exc:
            raise CommandError(exc.in_both_languages()) from None

    def _schedule(self, options: dict[str, Any]) -> None:
        result = services.entitlements_schedule(actor="system:payouts")
        self.stdout.write(
            f"{result.participants:,} participants newly owed the post-training incentive "
            f"({result.incentives:,} instalments); {result.surveys:,} survey incentives."
        )

    def _build(self, options: dict[str, Any]) -> None:
        waiting = held_back(today=options["due_by"])
        if waiting["count"]:
            self.stdout.write(
                f"{waiting['count']:,} due payments (Rp{waiting['total']:,}) wait: their participants have "
                "no verified payout account."
            )
        batch = services.batch_build(actor=_officer(options["user"]), due_by=options["due_by"])
        self.stdout.write(
            f"Batch {batch.pk}: {batch.payment_count:,} payments, Rp{batch.total:,} in "
            f"{batch.chunks.count():,} chunks, awaiting approval by another officer. Digest {batch.digest}."
        )

    def _approve(self, options: dict[str, Any]) -> None:
        batch = services.batch_approve(batch=_batch(options["batch"]), actor=_officer(options["user"]))
        self.stdout.write(
            f"Batch {batch.pk} approved by {batch.approved_by_label}; send it with `payouts send`."
        )

    def _send(self, options: dict[str, Any]) -> None:
        batch, officer = _batch(options["batch"]), _officer(options["user"])
        with Progress(disable=not self.stdout.isatty()) as bar:
            task = bar.add_task(f"Batch {batch.pk}", total=None)
            result = services.batch_send(
                batch=batch,
                actor=officer,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        batch.refresh_from_db()
        self.stdout.write(
            f"Batch {batch.pk}: {result.chunks:,} chunks ({result.payments:,} payments) acknowledged"
            + (f", {result.resent:,} of them sent again after an interruption" if result.resent else "")
            + f"; status {batch.status}."
        )

    _resume = _send

    def _list(self, options: dict[str, Any]) -> None:
        for batch in batches():
            self.stdout.write(
                f"{batch.pk:>5} {batch.status:<10} {batch.payment_count:>10,} payments Rp{batch.total:>15,} "
                f"built by {batch.built_by_label}, approved by {batch.approved_by_label or '—'}"
                + (f", {batch.unacknowledged} chunks not acknowledged" if batch.unacknowledged else "")
            )

    def _reconcile(self, options: dict[str, Any]) -> None:
        path = options["file"]
        if options["fetch"]:
            from prakerja.payments.providers import providers

            path = (
                Path(settings.WORK_DIR) / f"settlement-{options['provider']}-{date.today():%Y%m%d%H%M%S}.csv"
            )
            path.write_text(providers().settlement(provider=options["provider"]))
        elif path is None:
            raise CommandError("Give the settlement file, or --fetch.")
        elif not path.is_file():
            raise CommandError(f"No such file: {path}")
        run = services.reconcile(provider=options["provider"], path=path, actor=_officer(options["user"]))
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(run.counts.items()))
        self.stdout.write(f"Reconciliation {run.pk} of {path.name}: {run.lines:,} lines; {counts}.")
        for issue in run.discrepancies.order_by("pk")[:50]:
            self.stdout.write(
                f"  line {issue.line or '-'}  {issue.kind:<9} {issue.payment_key}  {issue.detail}"
            )
        extra = run.discrepancies.count() - 50
        if extra > 0:
            self.stdout.write(f"  … and {extra:,} more on the reconciliation page.")

    def _statements(self, options: dict[str, Any]) -> None:
        made = services.statements_issue(
            period_end=options["period_end"] or date.today(), actor=_officer(options["user"])
        )
        for s in made:
            self.stdout.write(
                f"Statement {s.pk}: {s.platform} — {s.purchases:,} trainings, Rp{s.gross:,} "
                f"(commission Rp{s.commission:,}, institutions Rp{s.institutions_share:,})"
            )
        if not made:
            self.stdout.write("No completed training is waiting for a statement.")

    def _statement_paid(self, options: dict[str, Any]) -> None:
        statement = Statement.objects.filter(pk=options["statement"]).first()
        if statement is None:
            raise CommandError(f"There is no statement {options['statement']}.")
        services.statement_paid(
            statement=statement, reference=options["reference"], actor=_officer(options["user"])
        )
        self.stdout.write(f"Statement {statement.pk} recorded as transferred.")

    def _simulator(self, options: dict[str, Any]) -> None:
        config = SimulatorConfig(
            port=options["port"],
            secret=settings.PAYMENT_PROVIDER_SECRET,
            callback_url=options["callback_url"] or None,
            failure_rate=options["failure_rate"],
            return_rate=options["return_rate"],
            delay=options["delay"],
            duplicate_rate=options["duplicate_rate"],
            reorder=options["reorder"],
            forge_rate=options["forge_rate"],
            seed=options["seed"],
            settlement_dir=options["settlement_dir"],
            state_file=options["state_file"],
        )
        self.stdout.write(f"Payment provider simulator on http://127.0.0.1:{config.port}/ (Ctrl-C to stop).")
        Simulator(config).serve_forever()
