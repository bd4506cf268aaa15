"""prakerja enrolment expire-vouchers: refund vouchers whose redeem window has closed (run daily)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prakerja.enrolment.services import vouchers_expire


class Command(BaseCommand):
    help = "Purchases and vouchers: refund the unredeemed vouchers whose redeem window has closed."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("expire-vouchers", help="cancel and refund expired vouchers; safe to run again")

    def handle(self, *args: Any, **options: Any) -> None:
        expired = vouchers_expire()
        self.stdout.write(f"{expired:,} expired vouchers cancelled and refunded to their cards.")
