"""prakerja exclusions upload|remove|list: NIK lists from other agencies, kept as blind indexes."""

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_lazy as _

from prakerja.core.errors import PrakerjaError, each_language
from prakerja.core.management import in_both_languages, refused
from prakerja.identity.rules import Problem
from prakerja.registry.models import ExclusionList, ListKind
from prakerja.registry.services import exclusion_list_remove, exclusion_list_upload


class Command(BaseCommand):
    help = "Exclusion lists. Subcommands: upload, remove, list."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        up = sub.add_parser(
            "upload", help="Upload a CSV whose first column is the NIK (a header line is allowed)."
        )
        up.add_argument("file", type=Path)
        up.add_argument("--kind", required=True, choices=ListKind.values)
        up.add_argument("--source", required=True, help="the agency the list comes from, e.g. BKN")
        up.add_argument("--as-of", required=True, type=date.fromisoformat, help="the list's date, YYYY-MM-DD")
        rm = sub.add_parser("remove", help="Retire a list and re-check everyone on it.")
        rm.add_argument("list_id", type=int)
        sub.add_parser("list", help="Show the lists.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except PrakerjaError as exc:
            raise CommandError(exc.in_both_languages()) from None

    def _upload(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise refused(_("%(path)s does not exist or is not a file."), path=str(path))
        rejected: list[tuple[int, list[Problem]]] = []

        def on_error(line: int, problems: list[Problem]) -> None:
            rejected.append((line, problems))

        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                niks = [
                    (n, row[0])
                    for n, row in enumerate(csv.reader(handle), start=1)
                    if row and not (n == 1 and not row[0].strip().isdigit())
                ]
        except UnicodeDecodeError:
            raise refused(_("%(path)s is not UTF-8 text; nothing was uploaded."), path=str(path)) from None
        result = exclusion_list_upload(
            kind=options["kind"],
            source=options["source"],
            as_of=options["as_of"],
            niks=niks,
            actor="system:cli",
            on_error=on_error,
        )
        counts = {
            "list": result.exclusion_list.pk,
            "entries": f"{result.entries:,}",
            "rejected": f"{result.rejected:,}",
            "checked": f"{result.recheck.checked:,}",
            "changed": f"{result.recheck.changed:,}",
        }

        def report() -> str:
            """The summary, then the reasons of the first rejected lines, in the active language."""
            lines = [
                str(
                    _(
                        "List %(list)s: %(entries)s NIKs stored as blind indexes; %(rejected)s lines "
                        "rejected; %(checked)s applicants re-checked, %(changed)s decisions changed."
                    )
                )
                % counts
            ]
            for line, problems in rejected[:10]:
                reasons = " ".join(p.message for p in problems)
                lines.append(str(_("  line %(line)s: %(reasons)s")) % {"line": line, "reasons": reasons})
            return "\n".join(lines)

        self.stdout.write("\n".join(each_language(report).values()))

    def _remove(self, options: dict[str, Any]) -> None:
        result = exclusion_list_remove(list_id=options["list_id"], actor="system:cli")
        self.stdout.write(
            in_both_languages(
                _("Removed. %(checked)s applicants re-checked, %(changed)s decisions changed."),
                checked=f"{result.checked:,}",
                changed=f"{result.changed:,}",
            )
        )

    def _list(self, options: dict[str, Any]) -> None:
        for item in ExclusionList.objects.order_by("kind", "-as_of"):
            self.stdout.write(
                json.dumps(
                    {
                        "id": item.pk,
                        "kind": item.kind,
                        "source": item.source,
                        "as_of": item.as_of.isoformat(),
                        "entries": item.entries_count,
                        "active": item.active,
                    }
                )
            )
