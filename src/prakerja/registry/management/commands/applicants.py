"""prakerja applicants import FILE.csv [--errors ERRORS.csv] [--json]."""

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from rich.progress import Progress

from prakerja.identity.rules import Problem
from prakerja.registry.rules import COLUMNS
from prakerja.registry.services import applicants_import

ERROR_COLUMNS = ("line", "column", "code", "pesan", "message")


def _check_encoding(path: Path) -> int:
    """The number of lines, after making sure the whole file is UTF-8 (nothing is imported otherwise)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_line = lines + chunk[: exc.start].count(b"\n") + 1
                raise CommandError(
                    f"{path} is not UTF-8 text: the first undecodable byte is on line {bad_line}. "
                    "Save the file as UTF-8 (CSV UTF-8) and import it again; nothing was imported."
                ) from None
            lines += chunk.count(b"\n")
        decoder.decode(b"", final=True)
    return lines


def _both(problem: Problem) -> tuple[str, str]:
    with translation.override("id"):
        indonesian = problem.message
    with translation.override("en"):
        english = problem.message
    return indonesian, english


class Command(BaseCommand):
    help = "Applicants. Subcommands: import."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        imp = sub.add_parser("import", help="Register applicants from a CSV file (safe to run again).")
        imp.add_argument("file", type=Path, help="UTF-8 CSV with the columns " + ",".join(COLUMNS))
        imp.add_argument("--errors", type=Path, help="write rejected rows with their reasons to this CSV")
        imp.add_argument(
            "--json", action="store_true", help='print {"read", "imported", "rejected", "duplicates"}'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        total = _check_encoding(path)
        errors_out: TextIO | None = None
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CommandError(
                    f"{path} lacks the column(s) {', '.join(missing)}; the first line must name "
                    f"{','.join(COLUMNS)}. Nothing was imported."
                )
            if options["errors"]:
                errors_out = options["errors"].open("w", newline="", encoding="utf-8")
            errors = csv.writer(errors_out) if errors_out else None
            if errors:
                errors.writerow(ERROR_COLUMNS)

            def on_error(line: int, problems: list[Problem]) -> None:
                if errors:
                    for problem in problems:
                        column, _, code = problem.code.partition(":")
                        errors.writerow((line, column, code, *_both(problem)))

            def rows() -> Iterator[tuple[int, dict[str, str]]]:
                for row in reader:
                    yield reader.line_num, row

            show = sys.stdout.isatty() and not options["json"]
            with Progress(transient=True, disable=not show) as bar:
                task = bar.add_task("Applicants", total=max(total - 1, 0))
                result = applicants_import(
                    rows=rows(),
                    actor="system:import",
                    on_error=on_error,
                    progress=lambda n: bar.advance(task, n),
                )
        if errors_out:
            errors_out.close()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            self.stdout.write(
                f"Read {result.read:,} rows: {result.imported:,} imported ({result.eligible:,} eligible), "
                f"{result.rejected:,} rejected, {result.duplicates:,} already registered."
            )
