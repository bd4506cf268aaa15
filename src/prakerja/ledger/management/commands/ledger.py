"""prakerja ledger check: verify every invariant of the books."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prakerja.ledger.models import Account, JournalEntry
from prakerja.ledger.selectors import ledger_check


class Command(BaseCommand):
    help = "The double-entry ledger. Subcommands: check."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        sub.add_parser(
            "check",
            help="Verify that entries balance, balances match postings, sum to zero and stay within their "
            "limits, that the apps' books (payments) agree with their accounts, and that every applicant "
            "and eligibility decision links to rows that exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_check()
        if problems:
            for problem in problems:
                self.stderr.write(f"- {problem}")
            self.stderr.write(f"Ledger BROKEN: {len(problems)} problem(s).")
            raise SystemExit(1)
        entries, accounts = JournalEntry.objects.count(), Account.objects.count()
        self.stdout.write(
            f"Ledger holds: {entries:,} entries over {accounts:,} accounts balance, match their postings, "
            "sum to zero and stay within their limits; the payment books agree with their accounts; the "
            "registry's links hold."
        )
