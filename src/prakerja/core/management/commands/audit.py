"""prakerja audit verify: recompute the audit trail's hash chain."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prakerja.core.audit import audit_verify


class Command(BaseCommand):
    help = "The audit trail. Subcommands: verify."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        sub.add_parser("verify", help="Check every entry's hash and link; exit 1 at the first broken one.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if report.ok:
            self.stdout.write(f"Audit trail intact: {report.checked:,} entries verified.")
            return
        self.stderr.write(
            f"Audit trail BROKEN at entry {report.broken_id}: {report.reason} "
            f"({report.checked:,} entries before it verified)."
        )
        raise SystemExit(1)
