"""prakerja waves …: create and run a wave, from quotas to the verified draw and revoked cards."""

import csv
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from prakerja.core.errors import PrakerjaError
from prakerja.core.money import format_rupiah
from prakerja.registry.models import EmploymentStatus
from prakerja.waves import rules, selectors, services
from prakerja.waves.models import Scheme, Wave

ACTOR = "system:cli"


def _when(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is read in the server's time zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not an ISO date or date-time (YYYY-MM-DD[THH:MM]).") from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _read_quotas(path: Path) -> dict[str, int]:
    """Lines of `region_code,quota` (a header line is allowed; codes may carry dots)."""
    if not path.is_file():
        raise CommandError(f"{path} does not exist or is not a file.")
    quotas: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for line, row in enumerate(csv.reader(handle), start=1):
                if not row or (line == 1 and not row[-1].strip().isdigit()):
                    continue
                if len(row) != 2 or not row[1].strip().isdigit():
                    raise CommandError(f"{path}, line {line}: expected `region_code,quota`.")
                quotas[row[0].strip().replace(".", "")] = int(row[1])
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text.") from None
    return quotas


def _seed_from(options: dict[str, Any]) -> str:
    if options.get("seed_file"):
        path: Path = options["seed_file"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        return path.read_text().strip()
    if options.get("seed"):
        return str(options["seed"])
    raise CommandError("Give the seed with --seed HEX or --seed-file FILE.")


class Command(BaseCommand):
    help = (
        "Waves and the draw. Subcommands: list, create, simulate, open, commit-seed, close, select, "
        "announce, verify, fairness, revoke-expired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="subcommands")
        sub.add_parser("list", help="Show the waves.")
        create = sub.add_parser("create", help="Create a draft wave with its quotas.")
        create.add_argument("number", type=int)
        create.add_argument("--name", required=True)
        create.add_argument("--scheme", required=True, help="scheme code, e.g. semi-bansos-2020")
        create.add_argument("--opens", required=True, type=_when, help="window opens, ISO date-time")
        create.add_argument("--closes", required=True, type=_when, help="window closes, ISO date-time")
        create.add_argument("--total", required=True, type=int, help="total quota")
        create.add_argument(
            "--quotas", required=True, type=Path, help="CSV of region_code,quota per province (and regency)"
        )
        self._priority_arguments(create)
        simulate = sub.add_parser(
            "simulate", help="Project recipients and budget of quotas over today's registry."
        )
        simulate.add_argument("--scheme", required=True)
        simulate.add_argument("--total", required=True, type=int)
        simulate.add_argument("--quotas", required=True, type=Path)
        for name, text in (
            ("open", "Open a draft wave for joining; carries over earlier waiting lists."),
            ("close", "Close joining and re-check the entrants' eligibility."),
            ("announce", "Issue the cards and notify every entrant; safe to run again."),
            ("fairness", "Selection rates by province, sex, rural/urban, disability and age band."),
        ):
            sub.add_parser(name, help=text).add_argument("number", type=int)
        commit = sub.add_parser(
            "commit-seed", help="Publish the SHA-256 of the secret seed before the close."
        )
        commit.add_argument("number", type=int)
        given = commit.add_mutually_exclusive_group(required=True)
        given.add_argument("--commitment", help="SHA-256 (hex) of a seed you keep yourself")
        given.add_argument(
            "--new-seed-file", type=Path, help="make a new random seed, keep it in this file (mode 600)"
        )
        select = sub.add_parser(
            "select", help="Reveal the seed and draw; publishes the inputs and the result."
        )
        select.add_argument("number", type=int)
        select.add_argument("--seed", help="the 64-hex seed")
        select.add_argument("--seed-file", type=Path, help="a file holding the seed")
        verify = sub.add_parser(
            "verify", help="Re-run a draw: of a wave in this database, or from the published files alone."
        )
        verify.add_argument("number", type=int, nargs="?")
        verify.add_argument("--manifest", type=Path, help="the published wave-N-draw.json")
        verify.add_argument("--inputs", type=Path, help="the published wave-N-inputs.csv")
        sub.add_parser(
            "revoke-expired", help="Revoke cards unused past their deadline; refill from waiting lists."
        )

    @staticmethod
    def _priority_arguments(parser: CommandParser) -> None:
        parser.add_argument(
            "--priority-employment", nargs="*", default=None, choices=EmploymentStatus.values,
            help="employment statuses drawn first, e.g. laid_off",
        )  # fmt: skip
        parser.add_argument(
            "--priority-regions", nargs="*", default=None, help="hard-hit province/regency codes"
        )
        parser.add_argument("--priority-disability", action="store_true")
        parser.add_argument("--priority-rural", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except PrakerjaError as exc:
            raise CommandError(exc.in_both_languages()) from None

    def _list(self, options: dict[str, Any]) -> None:
        for wave in Wave.objects.select_related("scheme").order_by("number"):
            self.stdout.write(
                f"{wave.number:>3}  {wave.name:<24} {wave.status:<10} {wave.total_quota:>10,} places  "
                f"{wave.opens_at:%Y-%m-%d %H:%M} to {wave.closes_at:%Y-%m-%d %H:%M}  {wave.scheme.code}"
            )

    def _create(self, options: dict[str, Any]) -> None:
        scheme = self._scheme(options["scheme"])
        priority: dict[str, Any] = {}
        if options["priority_employment"]:
            priority["employment"] = options["priority_employment"]
        if options["priority_regions"]:
            priority["regions"] = [c.replace(".", "") for c in options["priority_regions"]]
        if options["priority_disability"]:
            priority["disability"] = True
        if options["priority_rural"]:
            priority["rural"] = True
        wave = services.wave_create(
            number=options["number"],
            name=options["name"],
            scheme=scheme,
            opens_at=options["opens"],
            closes_at=options["closes"],
            total_quota=options["total"],
            quotas=_read_quotas(options["quotas"]),
            priority=priority,
            actor=ACTOR,
        )
        cells = rules.cells(dict(wave.quotas.values_list("region_code", "places")))
        self.stdout.write(
            f"Wave {wave.number} created as a draft: {wave.total_quota:,} places in {len(cells)} cells."
        )

    @staticmethod
    def _scheme(code: str) -> Scheme:
        scheme = Scheme.objects.filter(code=code).first()
        if scheme is None:
            known = ", ".join(Scheme.objects.values_list("code", flat=True))
            raise CommandError(f"Unknown scheme {code!r}. Known: {known}.")
        return scheme

    def _simulate(self, options: dict[str, Any]) -> None:
        result = selectors.wave_simulate(
            scheme=self._scheme(options["scheme"]),
            total_quota=options["total"],
            quotas=_read_quotas(options["quotas"]),
        )
        if result.problems:
            raise CommandError("\n".join(f"- {p.message}" for p in result.problems))
        self.stdout.write(f"{'cell':<6} {'name':<32} {'quota':>9} {'eligible':>10} {'recipients':>10}")
        for cell in result.cells:
            self.stdout.write(
                f"{cell.code:<6} {cell.name[:32]:<32} {cell.quota:>9,} {cell.pool:>10,} "
                f"{cell.recipients:>10,}"
            )
        self.stdout.write(
            f"Recipients {result.recipients:,}; unfilled places {result.unfilled:,}; "
            f"budget {format_rupiah(result.budget)} "
            f"(training balances {format_rupiah(result.training_budget)})."
        )

    def _open(self, options: dict[str, Any]) -> None:
        carried = services.wave_open(wave=services.wave_by_number(options["number"]), actor=ACTOR)
        self.stdout.write(
            f"Wave {options['number']} is open; {carried:,} entrants carried over from waiting lists."
        )

    def _commit_seed(self, options: dict[str, Any]) -> None:
        wave = services.wave_by_number(options["number"])
        path: Path | None = options["new_seed_file"]
        if path is not None:
            if path.exists():
                raise CommandError(f"{path} exists already; a seed file is never overwritten.")
            seed = secrets.token_hex(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(seed + "\n")
            commitment = rules.commitment(seed)
        else:
            commitment = options["commitment"]
        services.seed_commit(wave=wave, commitment=commitment, actor=ACTOR)
        self.stdout.write(
            f"Wave {wave.number}: commitment {commitment} published. Keep the seed secret until the draw."
        )

    def _close(self, options: dict[str, Any]) -> None:
        result = services.wave_close(wave=services.wave_by_number(options["number"]), actor=ACTOR)
        self.stdout.write(
            f"Wave {options['number']} closed: {result.entrants:,} entrants, "
            f"{result.rechecked:,} re-checked, {result.excluded:,} no longer eligible."
        )

    def _select(self, options: dict[str, Any]) -> None:
        wave = services.wave_by_number(options["number"])
        result = services.wave_select(wave=wave, seed=_seed_from(options), actor=ACTOR)
        inputs, manifest = services.draw_files(wave)
        self.stdout.write(
            f"Wave {wave.number} drawn: {result.selected:,} of {result.entrants:,} selected "
            f"(draw {result.seconds_draw:.2f} s). Published: {inputs} and {manifest}."
        )

    def _announce(self, options: dict[str, Any]) -> None:
        result = services.wave_announce(wave=services.wave_by_number(options["number"]), actor=ACTOR)
        self.stdout.write(f"{result.cards:,} cards issued, {result.messages:,} messages queued.")

    def _verify(self, options: dict[str, Any]) -> None:
        if options["manifest"] or options["inputs"]:
            if not (options["manifest"] and options["inputs"]):
                raise CommandError("Give both --manifest and --inputs.")
            for path in (options["manifest"], options["inputs"]):
                if not path.is_file():
                    raise CommandError(f"{path} does not exist or is not a file.")
            report = selectors.draw_verify_files(options["manifest"], options["inputs"])
        elif options["number"] is not None:
            report = selectors.draw_verify(services.wave_by_number(options["number"]))
        else:
            raise CommandError("Give a wave number, or --manifest and --inputs.")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"- {problem}")
            raise CommandError("The draw does NOT verify.")
        self.stdout.write(
            f"The draw verifies: the seed matches its commitment and re-running it over {report.entrants:,} "
            f"entrants selects the same {report.selected:,} people."
        )

    def _fairness(self, options: dict[str, Any]) -> None:
        report = selectors.fairness_report(services.wave_by_number(options["number"]))
        for dimension, rates in report.items():
            self.stdout.write(f"\n{dimension}")
            for rate in rates:
                self.stdout.write(
                    f"  {rate.label[:30]:<30} {rate.entrants:>10,} {rate.selected:>10,} {rate.rate:>8.1%}"
                )

    def _revoke_expired(self, options: dict[str, Any]) -> None:
        result = services.cards_revoke_expired(actor=ACTOR)
        self.stdout.write(
            f"{result.revoked:,} cards revoked; {result.replaced:,} places given to the waiting list."
        )
