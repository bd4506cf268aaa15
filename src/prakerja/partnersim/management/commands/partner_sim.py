"""prakerja partner-sim: a platform and its institutions through the partner API, for many participants."""

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, connections
from django.utils import timezone
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from prakerja.partnersim.client import (
    ApiError,
    CodeKind,
    Credentials,
    Offer,
    OpenApiMismatch,
    Simulation,
    Summary,
    Transport,
    UrllibTransport,
    WsgiTransport,
)

CODE_LENGTH: dict[CodeKind, int] = {"link": 6, "voucher": 12}


def outbox_code(card_number: str, kind: CodeKind) -> str:
    """Playing the participant's phone: the code in the newest message sent to this card's holder."""
    # The only place the sim reads the database: a real partner hears the code from the participant.
    from prakerja.core.models import OutboxMessage
    from prakerja.waves.models import Card

    applicant = Card.objects.select_related("applicant").get(number=card_number).applicant
    addresses = {a for a in (applicant.email, applicant.phone) if a}
    # "... berikan kode ABC234 ..." or "Kode voucher Anda: ..." (card holders are written to in Indonesian).
    pattern = re.compile(rf"(?i:code|kode)\b[^.]*?\b([A-Z2-9]{{{CODE_LENGTH[kind]}}})\b")
    # Recipients are encrypted with a random nonce, so they cannot be filtered in SQL: scan the newest.
    for message in OutboxMessage.objects.order_by("-pk")[:500]:
        if message.recipient in addresses and (found := pattern.search(message.body)):
            return found.group(1)
    raise ApiError(0, "code_not_received", f"no {kind} code for the card ending {card_number[-4:]}")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The summary reports what happened; a line per request would drown it."""


@contextmanager
def in_process_server() -> Iterator[str]:
    """Serve the project on a free loopback port in a thread; yields its base URL."""
    server: WSGIServer = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_QuietHandler)

    def serve() -> None:
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()  # the thread's own connections, so the database can be dropped or flushed

    thread = threading.Thread(target=serve, name="partner-sim-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class _SameConnectionHandler(WSGIHandler):
    """Django in this thread, keeping the caller's connection open between requests."""

    def __call__(self, environ: Any, start_response: Any) -> Any:
        # As Django's test client does: closing "old" connections would end the caller's transaction.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = super().__call__(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@contextmanager
def in_process(transport: Transport | None = None) -> Iterator[tuple[str, Transport]]:
    """A base URL and transport to this process's own server."""
    # A server thread sees only committed data: inside a transaction (a caller's, or a test's) the
    # requests go through Django in this thread instead, on the same connection.
    if connection.in_atomic_block:
        yield "http://127.0.0.1", transport or WsgiTransport(_SameConnectionHandler())
        return
    with in_process_server() as base_url:
        yield base_url, transport or UrllibTransport()


def demo_setup(count: int) -> tuple[Credentials, list[Offer], list[str]]:
    """Fresh credentials of the demo's first platform and its online trainings' institutions; N cards."""
    # Card holders who have bought and linked nothing yet, so every run starts new participants.
    from prakerja.accounts.models import Role, User
    from prakerja.catalog.models import Listing, ListingStatus, TrainingStatus
    from prakerja.enrolment.models import CardLink
    from prakerja.partners import services as partners
    from prakerja.partners.models import Kind, Partner, PartnerStatus
    from prakerja.partners.selectors import IN_GOOD_STANDING
    from prakerja.waves.models import Card, CardStatus

    platform = (
        Partner.objects.filter(kind=Kind.PLATFORM, status=PartnerStatus.INTEGRATED).order_by("pk").first()
    )
    officer = User.objects.filter(role=Role.PARTNERSHIP_OFFICER, is_active=True).order_by("pk").first()
    if platform is None or officer is None:
        raise CommandError("No integrated platform or partnership officer: run `prakerja demo` first.")
    linked = CardLink.objects.values("card_id")
    cards = list(
        Card.objects.filter(status=CardStatus.ACTIVE, first_purchase_at__isnull=True)
        .exclude(pk__in=linked)
        .order_by("pk")
        .values_list("number", flat=True)[:count]
    )
    if not cards:
        raise CommandError("No card holder is left who has not linked a card or bought yet.")
    listings = (
        Listing.objects.filter(
            platform=platform,
            status=ListingStatus.ACTIVE,
            training__status=TrainingStatus.APPROVED,
            training__mode="online",  # the demo's sessions start next week, outside the redemption window
            training__institution__status__in=IN_GOOD_STANDING,
        )
        .select_related("training__institution")
        .order_by("price", "pk")
    )
    cheapest: dict[int, Any] = {}
    for listing in listings[:200]:
        cheapest.setdefault(listing.training.institution_id, listing)
        if len(cheapest) == 3:
            break
    if not cheapest:
        raise CommandError(f"{platform.name} lists no online training to sell.")
    issued, secret = partners.credential_issue(partner=platform, officer=officer)
    platform_credentials = Credentials(issued.client_id, secret)
    offers = []
    today = timezone.localdate()
    for listing in cheapest.values():
        institution = listing.training.institution
        if partners.agreement_in_force(institution) is None:
            partners.agreement_record(
                partner=institution,
                number=f"PKS-SIM-{institution.pk}",
                signed_on=today,
                starts_on=today,
                ends_on=today + timedelta(days=365),
                officer=officer,
            )
        taught, taught_secret = partners.credential_issue(partner=institution, officer=officer)
        offers.append(Offer(listing.training_id, Credentials(taught.client_id, taught_secret)))
    return platform_credentials, offers, cards


def demo_run(
    count: int, *, base_url: str | None = None, progress: Callable[[Any], None] | None = None
) -> Summary:
    """The sim on the demo's data, against `base_url` or this process's own server."""
    platform, offers, cards = demo_setup(count)
    if base_url:
        return Simulation(base_url, platform, outbox_code).run(cards, offers, progress)
    with in_process() as (url, transport):
        return Simulation(url, platform, outbox_code, transport=transport).run(cards, offers, progress)


def summary_table(summary: Summary, title: str = "Reference partner") -> Table:
    counts = summary.counts()
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for name in ("participants", "purchases", "redeemed", "completed", "certificates", "retries"):
        table.add_row(name, f"{counts[name]:,}")
    for code, n in sorted(counts["errors"].items()):
        table.add_row(f"error {code}", f"{n:,}")
    return table


def _offer(text: str, institution: Credentials) -> Offer:
    training, _, session = text.partition(":")
    if not training.isdigit() or (session and not session.isdigit()):
        raise CommandError(f"--training takes TRAINING_ID or TRAINING_ID:SESSION_ID, not {text!r}.")
    return Offer(int(training), institution, int(session) if session else None)


class Command(BaseCommand):
    help = (
        "Play a platform and an institution through the public partner API for many participants: link, "
        "buy, redeem, attend, complete. Uses only HTTP and the OpenAPI document."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        env = os.environ.get
        parser.add_argument("--base-url", help="the server, e.g. http://127.0.0.1:8000")
        parser.add_argument("--platform-client-id", default=env("PRAKERJA_SIM_PLATFORM_CLIENT_ID"))
        parser.add_argument(
            "--platform-secret",
            default=env("PRAKERJA_SIM_PLATFORM_SECRET"),
            help="or PRAKERJA_SIM_PLATFORM_SECRET, which keeps it out of the process list",
        )
        parser.add_argument("--institution-client-id", default=env("PRAKERJA_SIM_INSTITUTION_CLIENT_ID"))
        parser.add_argument(
            "--institution-secret",
            default=env("PRAKERJA_SIM_INSTITUTION_SECRET"),
            help="or PRAKERJA_SIM_INSTITUTION_SECRET",
        )
        parser.add_argument("--cards", type=Path, metavar="CARDS.txt", help="card numbers, one per line")
        parser.add_argument(
            "--training",
            action="append",
            default=[],
            metavar="ID[:SESSION_ID]",
            help="a training the platform lists and the institution teaches (repeatable; the session "
            "to attend for an in-person training)",
        )
        parser.add_argument("--count", type=int, default=20, metavar="N", help="participants (default 20)")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="on the demo database: issue fresh credentials, pick N card holders; without --base-url "
            "serve the project in-process on a free loopback port",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["count"] < 1:
            raise CommandError("--count must be 1 or more.")
        console = Console(stderr=options["json"])
        with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("Participants", total=options["count"])

            def advance(_outcome: Any) -> None:
                bar.advance(task)

            try:
                if options["demo"]:
                    summary = demo_run(options["count"], base_url=options["base_url"], progress=advance)
                else:
                    summary = self._run(options, advance)
            except OpenApiMismatch as error:
                raise CommandError(str(error)) from error
            except ApiError as error:  # e.g. the token endpoint refused the credentials
                raise CommandError(f"The API refused: {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_json(), default=str, indent=2))
        else:
            self._print(console, summary)
        if summary.counts()["errors"]:
            raise CommandError("Some participants did not complete: see the errors above.", returncode=1)

    def _print(self, console: Console, summary: Summary) -> None:
        for outcome in summary.outcomes:
            if outcome.verify_url:
                console.print(f"card …{outcome.card_last4}: certificate {outcome.verify_url}")
            elif outcome.error:
                console.print(f"card …{outcome.card_last4}: stopped at {outcome.stage} ({outcome.error})")
        console.print(summary_table(summary))

    def _run(self, options: dict[str, Any], progress: Callable[[Any], None]) -> Summary:
        needed = ("base_url", "platform_client_id", "platform_secret", "institution_client_id")
        missing = [f"--{n.replace('_', '-')}" for n in (*needed, "institution_secret") if not options[n]]
        if options["cards"] is None:
            missing.append("--cards")
        if not options["training"]:
            missing.append("--training")
        if missing:
            raise CommandError("Without --demo these are needed: " + ", ".join(missing) + ".")
        try:
            lines = options["cards"].read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise CommandError(f"Cannot read {options['cards']}: {error.strerror}") from error
        cards = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not cards:
            raise CommandError(f"{options['cards']} holds no card numbers.")
        institution = Credentials(options["institution_client_id"], options["institution_secret"])
        offers = [_offer(text, institution) for text in options["training"]]
        platform = Credentials(options["platform_client_id"], options["platform_secret"])
        simulation = Simulation(options["base_url"], platform, outbox_code)
        return simulation.run(cards[: options["count"]], offers, progress)
