"""prakerja nik check NIK [--json]: parse and validate a NIK against the regions tables."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prakerja.core.crypto import mask
from prakerja.core.errors import each_language
from prakerja.identity.selectors import nik_check
from prakerja.regions.selectors import names_above_villages


def _both_languages(problem: Any) -> dict[str, str]:
    return each_language(lambda: problem.message)


class Command(BaseCommand):
    help = "National identity numbers. Subcommands: check."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        check = sub.add_parser("check", help="Parse a NIK; exit 1 with every reason when it is not valid.")
        check.add_argument("nik", help="the 16-digit NIK")
        check.add_argument("--json", action="store_true", help="print JSON instead of text")

    def handle(self, *args: Any, **options: Any) -> None:
        names = names_above_villages()
        if not names:
            raise CommandError("No regions loaded: run `prakerja regions load` first.")
        result = nik_check(options["nik"])
        if result.ok and result.parsed:
            p = result.parsed
            fields = {
                "nik": mask(p.number),
                "province_code": p.province_code,
                "province": names.get(p.province_code),
                "regency_code": p.regency_code,
                "regency": names.get(p.regency_code),
                "district_code": p.district_code,
                "district": names.get(p.district_code),
                "birth_date": p.date.isoformat() if p.date else None,
                "sex": p.sex,
                "serial": p.serial,
            }
            if options["json"]:
                self.stdout.write(json.dumps({"valid": True, **fields}, ensure_ascii=False))
            else:
                for key, value in fields.items():
                    self.stdout.write(f"{key:14} {value}")
            return
        problems = [{"code": p.code, **_both_languages(p)} for p in result.problems]
        if options["json"]:
            self.stdout.write(json.dumps({"valid": False, "problems": problems}, ensure_ascii=False))
        else:
            for problem in problems:
                self.stderr.write(f"- {problem['id']}\n  {problem['en']}")
        raise SystemExit(1)
