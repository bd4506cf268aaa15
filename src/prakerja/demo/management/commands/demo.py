"""prakerja demo: migrate, load regions, seed the demo programme, print a summary and serve it."""

from pathlib import Path
from typing import Any

import pyotp
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Sum
from django.utils import translation
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from prakerja.accounts.models import Role, User
from prakerja.accounts.selectors import programme_summary
from prakerja.catalog.models import Listing, Training, TrainingStatus
from prakerja.core.audit import audit_verify
from prakerja.demo.partners import demo_partners
from prakerja.demo.payouts import ALUMNUS, demo_payouts, demo_simulator
from prakerja.demo.services import (
    DEMO_PASSWORD,
    DemoWaves,
    demo_appeals,
    demo_participant_register,
    demo_people_register,
    demo_users_ensure,
    demo_waves,
)
from prakerja.demo.trainings import demo_catalog
from prakerja.enrolment.models import Certificate, Purchase, PurchaseStatus
from prakerja.enrolment.services import sales_refresh
from prakerja.ledger.selectors import ledger_check
from prakerja.partners.models import ConflictOfInterest, Partner
from prakerja.partners.selectors import IN_GOOD_STANDING
from prakerja.partnersim.management.commands.partner_sim import demo_run, summary_table
from prakerja.payments.models import Payment, PaymentState
from prakerja.payments.selectors import benefits_of
from prakerja.registry.models import Applicant
from prakerja.registry.selectors import counts_by_failing_rule
from prakerja.waves.models import Card, Entry
from prakerja.waves.selectors import draw_verify

SIM_PARTICIPANTS = 20


class Command(BaseCommand):
    help = "Set up and serve the demo programme on the embedded database (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="seed, print the summary and exit")
        parser.add_argument(
            "--people",
            type=int,
            default=20_000,
            metavar="N",
            help="synthetic applicants to register (default 20,000)",
        )
        parser.add_argument(
            "--addr", default="127.0.0.1:8000", help="address to serve on (default 127.0.0.1:8000)"
        )
        parser.add_argument(
            "--code-for",
            metavar="USERNAME",
            help="print the current authenticator code of a demo PMO user and exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("The demo does not run with PRAKERJA_ENV=production.")
        if options["code_for"]:
            self._print_code(options["code_for"])
            return
        console = Console()
        if options["people"] < 0:
            raise CommandError("--people must be 0 or more.")
        console.print("[bold]1/4[/] Database schema")
        call_command("migrate", interactive=False, verbosity=0)
        console.print("[bold]2/4[/] Regions")
        call_command("regions", "load")
        console.print("[bold]3/4[/] Demo users")
        users = demo_users_ensure()
        console.print(f"[bold]4/4[/] {options['people']:,} synthetic applicants and exclusion lists")
        with Progress(transient=True) as bar:
            task = bar.add_task("Applicants", total=options["people"])
            demo_people_register(options["people"], progress=lambda n: bar.advance(task, n))
        demo_participant_register()
        demo_appeals()
        console.print("Wave 1: join, commit the seed, close, draw, announce; wave 2 opens")
        waves = demo_waves(work_dir=Path(settings.WORK_DIR))
        console.print("Partners: platforms and institutions onboarded, screened, some conflicts of interest")
        demo_partners()
        console.print("Training catalogue: trainings published, curated and listed by the platforms")
        demo_catalog()
        self._sell(console)
        simulator = demo_simulator(work_dir=Path(settings.WORK_DIR))
        try:
            console.print(
                "Incentives: ratings, surveys, payout accounts, batches paid through the provider simulator"
            )
            demo_payouts()
        finally:
            simulator.stop()
        with translation.override("en"):  # the command line speaks English, like the code and docs
            self._print_summary(console, users, waves)
        if not options["no_serve"]:
            simulator = demo_simulator(
                work_dir=Path(settings.WORK_DIR),
                callback_url=f"http://{options['addr']}/api/v1/payments/callbacks/",
            )
            console.print(
                f"Serving on http://{options['addr']}/ — Ctrl+C stops. "
                f"Payment provider simulator: {settings.PAYMENT_PROVIDER_URL}"
            )
            try:
                call_command("runserver", options["addr"], use_reloader=False)
            finally:
                simulator.stop()

    def _sell(self, console: Console) -> None:
        # Only up to SIM_PARTICIPANTS sales in all, so a second run adds none.
        count = min(SIM_PARTICIPANTS - Purchase.objects.count(), Card.objects.count())
        if count <= 0:
            return
        console.print(
            f"Reference partner: {count} card holders buy, attend and complete over the partner API"
        )
        with Progress(transient=True) as bar:
            task = bar.add_task("Participants", total=count)
            try:
                summary = demo_run(count, progress=lambda _outcome: bar.advance(task))
            except CommandError as error:  # e.g. every card holder has already bought: nothing to show
                console.print(f"Reference partner skipped: {error}")
                return
        if summary.counts()["errors"]:
            console.print(summary_table(summary, title="Reference partner: refusals"))
        sales_refresh()  # the uptake page counts them (in production: `prakerja enrolment refresh-sales`)

    def _print_code(self, username: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None or not user.totp_secret:
            raise CommandError(f"{username} is not a demo user with an authenticator.")
        self.stdout.write(pyotp.TOTP(user.totp_secret).now())

    def _print_summary(self, console: Console, users: Any, waves: DemoWaves | None) -> None:
        logins = Table(title=f"Demo log-ins (password for all: {DEMO_PASSWORD})")
        for column in ("username", "role", "authenticator key (TOTP)"):
            logins.add_column(column)
        for user in users:
            logins.add_row(user.username, str(Role(user.role).label), user.totp_secret or "—")
        console.print(logins)
        console.print(
            "PMO staff enter an authenticator code after the password: "
            "[bold]prakerja demo --code-for pmo.admin[/] prints the current one."
        )
        summary = programme_summary()
        held = Table(title="What the demo holds")
        held.add_column("what")
        held.add_column("count", justify="right")
        for label, count in summary["regions"]:  # type: ignore[attr-defined]
            held.add_row(str(label), f"{count:,}")
        held.add_row("accounts", f"{User.objects.count():,}")
        held.add_row("applicants", f"{Applicant.objects.count():,}")
        held.add_row("  eligible", f"{Applicant.objects.filter(eligible=True).count():,}")
        for code, count in counts_by_failing_rule().items():
            if count:
                held.add_row(f"  failing {code}", f"{count:,}")
        if waves is not None:
            drawn = waves.drawn
            entries = Entry.objects.filter(wave=drawn)
            held.add_row(f"wave {drawn.number} entrants", f"{entries.count():,}")
            held.add_row("  selected, cards issued", f"{Card.objects.filter(entry__wave=drawn).count():,}")
            held.add_row("  draw verifies", "yes" if draw_verify(drawn).ok else "NO")
            if waves.open is not None:
                carried = Entry.objects.filter(wave=waves.open).count()
                held.add_row(f"wave {waves.open.number} open, carried over", f"{carried:,}")
        for kind, label in (("platform", "platforms"), ("institution", "training institutions")):
            partners = Partner.objects.filter(kind=kind)
            good = partners.filter(status__in=IN_GOOD_STANDING).count()
            held.add_row(f"{label} (in good standing)", f"{partners.count():,} ({good:,})")
        held.add_row("  conflicts of interest flagged", f"{ConflictOfInterest.objects.count():,}")
        trainings = Training.objects.all()
        approved = trainings.filter(status=TrainingStatus.APPROVED).count()
        held.add_row("trainings (approved)", f"{trainings.count():,} ({approved:,})")
        held.add_row("  platform listings", f"{Listing.objects.count():,}")
        held.add_row("purchases", f"{Purchase.objects.count():,}")
        completed = Purchase.objects.filter(status=PurchaseStatus.COMPLETED).count()
        held.add_row("  completed, certificates issued", f"{completed:,} ({Certificate.objects.count():,})")
        paid = Payment.objects.filter(state=PaymentState.PAID).aggregate(n=Count("pk"), total=Sum("amount"))
        held.add_row("incentive payments paid (Rp)", f"{paid['n']:,} ({paid['total'] or 0:,})")
        alumnus = Applicant.objects.filter(user__username=ALUMNUS).first()
        benefits = benefits_of(alumnus) if alumnus else None
        if benefits:
            held.add_row(
                f"  benefit received by '{ALUMNUS}' (Rp)",
                f"{benefits.received:,} of {benefits.scheme_total:,}",
            )
        held.add_row("ledger check", "holds" if not ledger_check() else "BROKEN")
        chain = audit_verify()
        held.add_row(
            "audit entries (chain " + ("intact" if chain.ok else "BROKEN") + ")", f"{chain.checked:,}"
        )
        console.print(held)
