"""prakerja report benefits: how many participants received each total of benefit, per scheme."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prakerja.core.money import format_rupiah
from prakerja.payments.selectors import benefits_report


class Command(BaseCommand):
    help = "Programme reports. Subcommands: benefits."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        benefits = sub.add_parser(
            "benefits",
            help="Per scheme, card holders by total benefit received: training spent, incentives, surveys.",
        )
        benefits.add_argument("--wave", type=int, help="only the card holders of this wave")
        benefits.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = benefits_report(wave=options["wave"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for scheme, figures in report.items():
            self.stdout.write(f"{scheme}: {figures['participants']:,} card holders")
            for total, count in figures["totals"].items():
                self.stdout.write(f"  {format_rupiah(int(total)):>16}  {count:,}")
        if not report:
            self.stdout.write("No card holders yet.")
