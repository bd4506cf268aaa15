"""prakerja surveys invite (daily): invite participants to their scheme's surveys, then tell those whose
survey has opened."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prakerja.surveys.services import invitations_create, invitations_notify


class Command(BaseCommand):
    help = "Surveys: create the missing invitations after first completed trainings, and notify opened ones."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        invite = commands.add_parser(
            "invite", help="create missing invitations, then notify; safe to run again"
        )
        invite.add_argument("--today", help="notify as of this day (YYYY-MM-DD); default: today")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options.get("today"):
            try:
                today = date.fromisoformat(options["today"])
            except ValueError as exc:
                raise CommandError("--today is a date as YYYY-MM-DD") from exc
        created = invitations_create()
        notified = invitations_notify(today=today)
        self.stdout.write(f"{created:,} survey invitations created; {notified:,} participants notified.")
