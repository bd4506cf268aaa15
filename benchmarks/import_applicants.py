"""On PostgreSQL: the bulk import of applicants beside a raw COPY of the same rows, then the re-check
after an exclusion list arrives beside one bare UPDATE of the same applicants (`make bench`)."""

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import django
from django.core.management import call_command

from common import fresh_database, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="applicants to import (default 1,000,000)")
    n: int = parser.parse_args().n
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-") as name:
        folder = Path(name)
        os.environ.update(
            DJANGO_SETTINGS_MODULE="prakerja.settings",
            PRAKERJA_WORK_DIR=name,
            PRAKERJA_DATABASE_URL=fresh_database(os.environ.get("PRAKERJA_BENCH_DB", "prakerja_bench")),
        )
        django.setup()
        from django.db import connection

        from prakerja.registry.services import _COLUMNS, exclusion_list_upload

        call_command("migrate", verbosity=0)
        call_command("regions", "load", stdout=io.StringIO())
        people = folder / "people.csv"
        call_command("people", "generate", str(n), "--out", str(people), "--seed", "1", stdout=io.StringIO())

        start = time.perf_counter()
        call_command("applicants", "import", str(people), "--json", stdout=io.StringIO())
        ours = time.perf_counter() - start

        columns = ", ".join(_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE applicant_copy (LIKE registry_applicant INCLUDING ALL)")
            prepared = io.BytesIO()
            with cursor.cursor.copy(f"COPY (SELECT {columns} FROM registry_applicant) TO STDOUT") as copy:  # noqa: S608
                for block in copy:
                    prepared.write(block)
            start = time.perf_counter()
            with cursor.cursor.copy(f"COPY applicant_copy ({columns}) FROM STDIN") as copy:
                copy.write(prepared.getvalue())
            ceiling = time.perf_counter() - start
            cursor.execute("SELECT count(*) FROM registry_applicant")
            imported = cursor.fetchone()[0]

        listed = [row["nik"] for _, row in zip(range(n // 10), csv.DictReader(people.open()), strict=False)]
        start = time.perf_counter()
        upload = exclusion_list_upload(
            kind="civil_servant",
            source="BKN",
            as_of=date(2026, 11, 1),
            niks=list(enumerate(listed, 1)),
            actor="bench",
            on_error=lambda *_: None,
        )
        recheck = time.perf_counter() - start
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(
                "UPDATE applicant_copy SET failing_rules = failing_rules | 16, eligible = false "
                "WHERE nik_index IN (SELECT nik_index FROM registry_exclusionentry)"
            )
            bare_update = time.perf_counter() - start

    report(
        f"3. Importing {n:,} applicants from CSV on PostgreSQL",
        n,
        ("ours: prakerja applicants import", ours),
        ("ceiling: raw COPY", ceiling),
        f"{imported:,} rows imported; the ceiling copies the same encrypted rows into a table with the same "
        "columns and indexes",
    )
    changed = upload.recheck.changed
    report(
        f"4. Re-check after an exclusion list of {len(listed):,} NIKs ({imported:,} applicants)",
        changed,
        ("ours: exclusion_list_upload", recheck),
        ("ceiling: bare UPDATE", bare_update),
        f"{changed:,} decisions changed; ours stores the list, decides again and writes the history and "
        "audit; the ceiling is one UPDATE of the same rows in a copy of the table",
        unit="applicants",
    )


if __name__ == "__main__":
    sys.exit(main())
