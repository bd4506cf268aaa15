"""prakerja enrolment expire-vouchers (daily) and refresh-sales (every few minutes)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prakerja.enrolment.services import sales_refresh, vouchers_expire


class Command(BaseCommand):
    help = "Purchases and vouchers: refund the unredeemed vouchers whose redeem window has closed."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("expire-vouchers", help="cancel and refund expired vouchers; safe to run again")
        commands.add_parser("refresh-sales", help="recount the sales of every training and listing (uptake)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["command"] == "refresh-sales":
            sales_refresh()
            self.stdout.write("Sales of every training and listing recounted.")
            return
        expired = vouchers_expire()
        self.stdout.write(f"{expired:,} expired vouchers cancelled and refunded to their cards.")
