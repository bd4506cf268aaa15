"""Benchmarks: our code beside the ceiling measured in the same run (`make bench`, or `--n 20000` to try)."""

import argparse
import csv
import io
import os
import platform
import random
import tempfile
from collections.abc import Collection
from datetime import date
from itertools import repeat
from pathlib import Path

import django
from django.core.management import call_command

from common import console, report, timed
from prakerja.identity.generator import generate_people
from prakerja.identity.rules import check_nik

CORRUPT_SHARE = 0.05


def setup_django(folder: Path) -> None:
    """A throwaway SQLite database in `folder`, migrated, with the regions loaded."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "prakerja.settings"
    os.environ["PRAKERJA_WORK_DIR"] = str(folder)
    os.environ["PRAKERJA_DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    django.setup()
    from prakerja.regions.services import regions_load

    call_command("migrate", verbosity=0)
    regions_load()


def villages() -> list[tuple[str, bool]]:
    from prakerja.regions.models import Level, Region

    rows = Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural")
    return [(code, bool(rural)) for code, rural in rows]


def corrupt(niks: list[str], seed: int = 1) -> list[str]:
    """Break about CORRUPT_SHARE of `niks` in place: half get month 13, half province 00."""
    rng = random.Random(seed)
    for i in rng.sample(range(len(niks)), int(len(niks) * CORRUPT_SHARE)):
        niks[i] = niks[i][:8] + "13" + niks[i][10:] if i % 2 else "00" + niks[i][2:]
    return niks


def bench_nik(n: int, today: date) -> None:
    from prakerja.regions.selectors import names_above_villages

    known: Collection[str] = names_above_villages()
    niks = corrupt([person.nik for person in generate_people(n, villages=villages(), seed=1, today=today)])

    def ours() -> int:
        rejected = 0
        for value in niks:
            rejected += not check_nik(value, known_regions=known, today=today).ok
        return rejected

    def ceiling() -> int:
        parsed = 0
        for value in niks:
            parsed += len(value) == 16 and int(value) > 0
        return parsed

    (ours_seconds, rejected), (ceiling_seconds, _) = timed(ours), timed(ceiling)
    report(
        f"1. NIK validation of {n:,} numbers ({CORRUPT_SHARE:.0%} corrupted)",
        n,
        ("ours: check_nik", ours_seconds),
        ("ceiling: int(s)", ceiling_seconds),
        f"{rejected:,} rejected by check_nik; {len(known):,} known region codes",
    )


def bench_people(n: int, folder: Path) -> None:
    ours_file, ceiling_file = folder / "people.csv", folder / "ceiling.csv"
    args = ["people", "generate", str(n), "--out", str(ours_file), "--seed", "1"]
    ours_seconds, _ = timed(lambda: call_command(*args, stdout=io.StringIO()))
    with ours_file.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        sample = next(reader)  # a real row, so the ceiling writes fields of the same widths

    def ceiling() -> None:
        with ceiling_file.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(repeat(sample, n))

    ceiling_seconds, _ = timed(ceiling)
    mb = [path.stat().st_size / 1e6 for path in (ours_file, ceiling_file)]
    report(
        f"2. Generating {n:,} synthetic people to CSV",
        n,
        ("ours: people generate", ours_seconds),
        ("ceiling: csv.writer", ceiling_seconds),
        f"CSV files: {mb[0]:,.1f} MB ours, {mb[1]:,.1f} MB ceiling",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="rows per benchmark (default 1,000,000)")
    n: int = parser.parse_args().n
    console.print(
        f"[bold]Machine:[/] {os.cpu_count()} cores, {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-") as name:
        folder = Path(name)
        setup_django(folder)
        bench_nik(n, date.today())
        bench_people(n, folder)


if __name__ == "__main__":
    main()
