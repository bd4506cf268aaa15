"""prakerja people generate N --out FILE.csv [--seed S]: synthetic applicants in the import format."""

import csv
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.progress import Progress

from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.regions.models import Level, Region

CHUNK = 10_000


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Synthetic people. Subcommands: generate."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        gen = sub.add_parser(
            "generate", help="Write N synthetic, internally consistent people to a CSV file."
        )
        gen.add_argument("count", type=_positive, help="how many people (1 or more)")
        gen.add_argument("--out", required=True, type=Path, help="the CSV file to write")
        gen.add_argument(
            "--seed", type=int, default=0, help="random seed: the same seed gives the same people"
        )
        gen.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="reference date for ages (YYYY-MM-DD, default today)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        villages = list(Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural"))
        if not villages:
            raise CommandError("No regions loaded: run `prakerja regions load` first.")
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(f"Folder {out.parent} does not exist.")
        count = options["count"]
        people = generate_people(
            count, villages=villages, seed=options["seed"], today=options["as_of"] or timezone.localdate()
        )
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", newline="", encoding="utf-8") as handle, Progress(transient=True) as bar:
            task = bar.add_task("People", total=count)
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            chunk: list[tuple[str, ...]] = []
            for person in people:
                chunk.append(person.row())
                if len(chunk) == CHUNK:
                    writer.writerows(chunk)
                    bar.advance(task, len(chunk))
                    chunk.clear()
            writer.writerows(chunk)
        partial.replace(out)  # a file appears only when complete
        self.stdout.write(f"Wrote {count:,} people to {out}.")
