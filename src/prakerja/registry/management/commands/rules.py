"""prakerja rules show|new: the versioned eligibility rule sets."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prakerja.registry.rules import LIST_RULES
from prakerja.registry.selectors import ruleset_current
from prakerja.registry.services import ruleset_create


def _lists(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = set(kinds) - set(LIST_RULES)
    if unknown:
        raise ValueError(f"unknown list kinds: {', '.join(sorted(unknown))}")
    return kinds


class Command(BaseCommand):
    help = "Eligibility rule sets. Subcommands: show, new."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        sub.add_parser("show", help="Print the current rule set as JSON.")
        new = sub.add_parser(
            "new", help="Make a new version; what is not given is kept from the current one."
        )
        new.add_argument("--min-age", type=int)
        new.add_argument("--max-age", type=int, help="0 removes the upper bound")
        new.add_argument("--max-per-kk", type=int)
        new.add_argument("--excluded-lists", type=_lists, help="comma-separated: " + ",".join(LIST_RULES))
        new.add_argument("--note", default="", help="why the rules change")

    def handle(self, *args: Any, **options: Any) -> None:
        current = ruleset_current()
        if options["action"] == "show":
            if current is None:
                raise CommandError(
                    "No rule set yet: the first registration or import creates the default one."
                )
            self.stdout.write(json.dumps({"version": current.version, **current.params}, indent=2))
            return
        params = dict(current.params) if current else {}
        for key in ("min_age", "max_age", "max_per_kk", "excluded_lists"):
            if options[key] is not None:
                params[key] = options[key]
        if params.get("max_age") == 0:
            params["max_age"] = None
        if params.get("min_age") is not None and not 15 <= params["min_age"] <= 100:
            raise CommandError("--min-age must be between 15 and 100.")
        if params.get("max_per_kk") is not None and params["max_per_kk"] < 1:
            raise CommandError("--max-per-kk must be at least 1.")
        ruleset = ruleset_create(params=params, note=options["note"], actor="system:cli")
        self.stdout.write(f"Rule set v{ruleset.version} is now current: {json.dumps(ruleset.params)}")
