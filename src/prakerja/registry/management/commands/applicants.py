"""prakerja applicants import FILE.csv [--errors ERRORS.csv] [--json]."""

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rich.progress import Progress

from prakerja.core.errors import each_language
from prakerja.core.management import in_both_languages, refused
from prakerja.identity.rules import Problem
from prakerja.registry.rules import COLUMNS
from prakerja.registry.services import applicants_import

ERROR_COLUMNS = ("line", "column", "code", "pesan", "message")


def _check_file(path: Path) -> int:
    """The number of lines, once the whole file is known to be UTF-8 CSV whose every row is on one line
    (nothing is imported otherwise: a quote left open would swallow the rows after it)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise refused(
                    _(
                        "%(path)s is not UTF-8 text: the first undecodable byte is on line %(line)s. Save "
                        "the file as UTF-8 (CSV UTF-8) and import it again; nothing was imported."
                    ),
                    path=str(path),
                    line=lines + chunk[: exc.start].count(b"\n") + 1,
                ) from None
            lines += chunk.count(b"\n")
        decoder.decode(b"", final=True)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader, ended = csv.reader(handle), 0
        try:
            for _row in reader:
                if reader.line_num > ended + 1:
                    raise refused(
                        _(
                            "Line %(line)s of %(path)s opens a quoted value that runs over %(count)s lines "
                            "(a quote that is never closed?). Every row must be on one line; nothing was "
                            "imported."
                        ),
                        path=str(path),
                        line=ended + 1,
                        count=reader.line_num - ended,
                    )
                ended = reader.line_num
        except csv.Error as exc:
            raise refused(
                _("Line %(line)s of %(path)s cannot be read as CSV (%(reason)s); nothing was imported."),
                path=str(path),
                line=reader.line_num,
                reason=str(exc),
            ) from None
    return lines


def _both(problem: Problem) -> list[str]:
    """The problem's message in Indonesian (`pesan`) and English (`message`)."""
    return list(each_language(lambda: problem.message).values())


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
            raise refused(_("%(path)s does not exist or is not a file."), path=str(path))
        total = _check_file(path)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            names = list(reader.fieldnames or [])
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise refused(
                    _("%(path)s names the column(s) %(twice)s more than once. Nothing was imported."),
                    path=str(path),
                    twice=", ".join(twice),
                )
            if len(names) == 1 and names[0].count(";") >= len(COLUMNS) - 1:
                raise refused(
                    _(
                        "%(path)s separates its columns with semicolons. Save it as CSV with commas "
                        "(CSV UTF-8) and import it again; nothing was imported."
                    ),
                    path=str(path),
                )
            missing = [c for c in COLUMNS if c not in names]
            if missing:
                raise refused(
                    _(
                        "%(path)s lacks the column(s) %(missing)s; the first line must name %(columns)s. "
                        "Nothing was imported."
                    ),
                    path=str(path),
                    missing=", ".join(missing),
                    columns=",".join(COLUMNS),
                )
            with self._errors_file(options["errors"], path) as errors_out:
                errors = csv.writer(errors_out) if errors_out else None
                if errors:
                    errors.writerow(ERROR_COLUMNS)

                def on_error(line: int, problems: list[Problem]) -> None:
                    if errors:
                        for problem in problems:
                            column, _sep, code = problem.code.partition(":")
                            errors.writerow((line, column, code, *_both(problem)))

                def rows() -> Iterator[tuple[int, dict[str, str]]]:
                    for row in reader:
                        if any(v and v.strip() for v in row.values() if isinstance(v, str)):
                            yield reader.line_num, row  # not a line of commas only, as spreadsheets leave

                show = sys.stdout.isatty() and not options["json"]
                try:
                    with Progress(transient=True, disable=not show) as bar:
                        task = bar.add_task("Applicants", total=max(total - 1, 0))
                        result = applicants_import(
                            rows=rows(),
                            actor="system:import",
                            on_error=on_error,
                            progress=lambda n: bar.advance(task, n),
                        )
                except KeyboardInterrupt:
                    raise CommandError(_stopped(_("The import was stopped.")), returncode=130) from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        counts = {**result.as_dict(), "eligible": result.eligible}
        self.stdout.write(
            in_both_languages(
                _(
                    "Read %(read)s rows: %(imported)s imported (%(eligible)s eligible), %(rejected)s "
                    "rejected, %(duplicates)s already registered."
                ),
                **{k: f"{v:,}" for k, v in counts.items()},
            )
        )

    @contextmanager
    def _errors_file(self, target: Path | None, source: Path) -> Iterator[TextIO | None]:
        """The errors CSV, refused before anything is imported if it cannot be written (or is the input)."""
        if target is None:
            yield None
            return
        if target.exists() and target.resolve() == source.resolve():
            raise refused(
                _("The errors file %(path)s is the file being imported; name another one."), path=str(target)
            )
        try:
            out = target.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise refused(
                _("The errors file %(path)s cannot be written (%(reason)s); nothing was imported."),
                path=str(target),
                reason=exc.strerror or exc,
            ) from None
        try:
            with out:
                yield out
        except OSError as exc:  # the disk filled up, or the file went away, while the rows were imported
            raise CommandError(
                _stopped(
                    _("Writing the errors file %(path)s failed (%(reason)s)."),
                    path=str(target),
                    reason=exc.strerror or exc,
                )
            ) from None


def _stopped(why: Any, **params: Any) -> str:
    """Why an import stopped midway, and that running it again finishes it, in Indonesian and English."""
    kept = _("The rows written so far are kept; run the same command again to finish.")
    return in_both_languages(format_lazy("{} {}", why, kept), **params)
