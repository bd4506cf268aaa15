"""prakerja webhooks deliver [--loop] | replay MSG_ID: send partners their due webhook messages."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prakerja.core.errors import PrakerjaError
from prakerja.partners.services import webhook_replay, webhooks_deliver


class Command(BaseCommand):
    help = "Webhooks to partners (Standard Webhooks). Subcommands: deliver, replay."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        deliver = sub.add_parser("deliver", help="Send the messages that are due; safe to run in parallel.")
        deliver.add_argument("--limit", type=int, default=100, help="messages per round (default 100)")
        deliver.add_argument("--loop", action="store_true", help="keep delivering until interrupted")
        deliver.add_argument("--every", type=float, default=2.0, help="seconds between idle rounds (--loop)")
        replay = sub.add_parser("replay", help="Send a delivered or failed message again.")
        replay.add_argument("event_id", metavar="MSG_ID", help="the message's webhook-id (msg_…)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "replay":
            try:
                message = webhook_replay(event_id=options["event_id"], actor="system:cli")
            except PrakerjaError as exc:
                raise CommandError(exc.detail) from None
            self.stdout.write(f"{message.event_id} is queued again.")
            return
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        try:
            while True:
                counts = webhooks_deliver(limit=options["limit"])
                if any(counts.values()) or not options["loop"]:
                    self.stdout.write(
                        f"{counts['delivered']:,} delivered, {counts['retrying']:,} to retry, "
                        f"{counts['failed']:,} failed."
                    )
                if not options["loop"]:
                    return
                # A full round means more are due: go on at once; otherwise wait for new ones.
                if sum(counts.values()) < options["limit"]:
                    time.sleep(options["every"])
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
