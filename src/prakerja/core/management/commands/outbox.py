"""prakerja outbox send: deliver pending notifications (those not sent after commit are retried)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prakerja.core.notifications import outbox_deliver


class Command(BaseCommand):
    help = "The notifications outbox. Subcommands: send."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        send = sub.add_parser("send", help="Deliver pending messages.")
        send.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        sent = outbox_deliver(limit=options["limit"])
        self.stdout.write(f"Delivered {sent:,} messages.")
