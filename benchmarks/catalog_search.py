"""The training catalogue's search on SQLite and PostgreSQL: 10,000 approved trainings with their sessions,
typical searches timed p50/p99 through `selectors.trainings_search` (and one through the open-data API),
beside the same SQL replayed on a bare cursor and a bare `SELECT 1` measured in the same run."""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import django
import psycopg
from django.core.management import call_command
from rich.table import Table

from common import console

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/prakerja_bench_catalog"
GOAL_MS = 50.0  # p50 of a catalogue search on PostgreSQL
INSTITUTIONS = 200
# (Indonesian, English) topics per sector, so that titles, descriptions and searches read like the real thing.
TOPICS = {
    "it": [
        ("pemrograman python", "python programming"),
        ("analisis data", "data analysis"),
        ("desain web", "web design"),
        ("keamanan jaringan", "network security"),
        ("microsoft excel", "excel"),
    ],
    "sales": [
        ("pemasaran digital", "digital marketing"),
        ("penjualan online", "online selling"),
        ("iklan media sosial", "social media advertising"),
        ("layanan pelanggan", "customer service"),
    ],
    "language": [("bahasa inggris", "english"), ("bahasa jepang", "japanese"), ("bahasa korea", "korean")],
    "food": [
        ("barista kopi", "coffee barista"),
        ("kue dan roti", "pastry and bread"),
        ("sangrai kopi", "coffee roasting"),
        ("memasak masakan padang", "padang cooking"),
    ],
    "tourism": [
        ("pemandu wisata", "tour guide"),
        ("perhotelan", "hospitality"),
        ("tata graha", "housekeeping"),
    ],
    "manufacturing": [("pengelasan", "welding"), ("operator mesin cnc", "cnc machine operator")],
    "agriculture": [("budidaya ikan lele", "catfish farming"), ("hidroponik", "hydroponics")],
    "health": [("perawat lansia", "elderly care"), ("pertolongan pertama", "first aid")],
    "construction": [("instalasi listrik", "electrical installation"), ("tukang batu", "masonry")],
    "finance": [("akuntansi dasar", "basic accounting"), ("pajak umkm", "small business tax")],
    "beauty": [("tata rias pengantin", "bridal make-up"), ("potong rambut", "haircutting")],
    "fashion": [("menjahit busana", "dressmaking"), ("desain batik", "batik design")],
    "automotive": [("servis sepeda motor", "motorcycle servicing"), ("perawatan mobil", "car maintenance")],
    "logistics": [("manajemen gudang", "warehouse management"), ("ekspor impor", "export and import")],
    "entrepreneurship": [("memulai usaha", "starting a business"), ("waralaba", "franchising")],
    "creative": [
        ("fotografi produk", "product photography"),
        ("desain grafis", "graphic design"),
        ("video digital", "digital video"),
    ],
}
LEVELS = (
    ("beginner", "dasar", "basics"),
    ("intermediate", "menengah", "intermediate"),
    ("advanced", "mahir", "advanced"),
)
SUFFIXES = ("Maju", "Cakap", "Prima", "Mandiri")
MODES, MODE_WEIGHTS = ("online", "offline", "hybrid"), (0.65, 0.25, 0.10)
SENTENCES = (
    "Peserta belajar langsung dari praktisi berpengalaman.",
    "Materi disusun sesuai standar kompetensi kerja nasional.",
    "Setiap modul diakhiri dengan tugas praktik dan penilaian.",
    "Participants practise every skill on real cases.",
    "A certificate of completion is awarded after the final assessment.",
    "Suitable for job seekers and small business owners.",
)
# Typical searches: (label, filters). Region codes are Jawa Barat (32) and Kota Bandung (3273).
SEARCHES: list[tuple[str, dict[str, Any]]] = [
    ("no filter, best rated, page 1", {}),
    ("one word: digital", {"q": "digital"}),
    ("two words: pemasaran digital", {"q": "pemasaran digital"}),
    ("rare word: sangrai", {"q": "sangrai"}),
    ("no match: zzzqx", {"q": "zzzqx"}),
    ("sector + mode + max price", {"sector": "it", "mode": "online", "max_price": 2_000_000}),
    ("word + min rating, by price", {"q": "kopi", "min_rating": 4.0, "sort": "price"}),
    ("province 32, offline", {"region": "32", "mode": "offline"}),
    ("regency 3273", {"region": "3273"}),
    ("popular, page 2", {"sort": "popularity", "page": 2}),
    ("deep page (no filter, by price)", {"sort": "price", "page": 400}),
]


# --- one engine, in its own process ---------------------------------------------------------------


def setup(url: str, folder: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="prakerja.settings", PRAKERJA_WORK_DIR=folder, PRAKERJA_DATABASE_URL=url
    )
    django.setup()
    from prakerja.regions.services import regions_load

    call_command("migrate", verbosity=0)
    regions_load()


def seed(n: int, rng: random.Random) -> dict[str, float]:
    """n approved trainings of the institutions; in-person ones get 1-3 sessions in real regencies."""
    from prakerja.catalog import rules
    from prakerja.catalog.models import Session, Training
    from prakerja.partners.models import Partner
    from prakerja.regions.models import Level, Region

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    institutions = Partner.objects.bulk_create(
        Partner(
            kind="institution",
            name=f"Lembaga Pelatihan {rng.choice(SUFFIXES)} {i}",
            status="approved",
        )
        for i in range(INSTITUTIONS)
    )
    villages = list(Region.objects.filter(level=Level.VILLAGE).values_list("code", flat=True))
    now = datetime.now(UTC)
    trainings = []
    for i in range(n):
        sector = rng.choice(list(TOPICS))
        topic_id, topic_en = rng.choice(TOPICS[sector])
        level, level_id, level_en = rng.choice(LEVELS)
        institution = rng.choice(institutions)
        titles = (f"{topic_id.title()} {level_id.title()} {i}", f"{topic_en.title()} {level_en.title()} {i}")
        descriptions = tuple(
            "<p>" + " ".join(rng.sample(SENTENCES, 3)) + f" {topic} {topic_en}.</p>"
            for topic in (topic_id, topic_en)
        )
        skills = [topic_en.capitalize(), rng.choice(("Teamwork", "Problem solving", "Communication"))]
        hours = rng.randint(2, 120)
        rated = rng.random() < 0.7
        trainings.append(
            Training(
                institution=institution,
                title_id=titles[0],
                title_en=titles[1],
                description_id=descriptions[0],
                description_en=descriptions[1],
                skills=skills,
                sector=sector,
                level=level,
                mode=rng.choices(MODES, MODE_WEIGHTS)[0],
                hours=hours,
                price=min(5_000_000, max(100_000, round(hours * rng.lognormvariate(11.0, 0.5), -3))),
                status="approved",
                search_text=rules.search_text(
                    titles=titles, descriptions=descriptions, skills=skills, institution=institution.name
                ),
                rating=round(rng.uniform(2.5, 5.0), 2) if rated else None,
                rating_count=rng.randint(1, 500) if rated else 0,
                sold=int(rng.lognormvariate(3, 1.5)) if rng.random() < 0.8 else 0,
                approved_at=now - timedelta(minutes=i),
                submitted_at=now - timedelta(minutes=i + 60),
            )
        )
    Training.objects.bulk_create(trainings, batch_size=2000)
    sessions = []
    for training in trainings:
        if training.mode == "online":
            continue
        for k in range(rng.randint(1, 3)):
            village = rng.choice(villages)
            begins = now + timedelta(days=7 * (k + 1), hours=rng.randint(0, 48))
            sessions.append(
                Session(
                    training=training,
                    starts_at=begins,
                    ends_at=begins + timedelta(hours=4),
                    village_code=village,
                    regency_code=village[:4],
                    address=f"Jl. Pelatihan No. {k + 1}",
                    capacity=rng.randint(10, 40),
                )
            )
    Session.objects.bulk_create(sessions, batch_size=5000)
    seconds["trainings and sessions written"] = time.perf_counter() - start
    seconds["sessions"] = len(sessions)
    return seconds


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def timed_runs(work: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(3):  # warm the caches and the connection
        work()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return samples


def recorded(filters: dict[str, Any]) -> tuple[Any, list[tuple[str, Any]]]:
    """One search, and the SQL statements (with their parameters) it sent."""
    from django.db import connection

    from prakerja.catalog import selectors

    statements: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        found = selectors.trainings_search(**filters)
    return found, statements


def measure(runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from prakerja.catalog import selectors

    results = []
    with connection.cursor() as cursor:
        bare = percentiles(timed_runs(lambda: (cursor.execute("SELECT 1"), cursor.fetchall()), runs))
    for label, filters in SEARCHES:
        found, statements = recorded(filters)

        def ours(filters: dict[str, Any] = filters) -> None:
            page = selectors.trainings_search(**filters)
            for training in page.items:  # what a page shows of each row
                _ = training.institution.name

        def ceiling(statements: list[tuple[str, Any]] = statements) -> None:
            with connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)
                    cursor.fetchall()

        results.append(
            {
                "label": label,
                "total": found.total,
                "shown": len(found.items),
                "statements": len(statements),
                "ours": percentiles(timed_runs(ours, runs)),
                "ceiling": percentiles(timed_runs(ceiling, runs)),
            }
        )
    client = Client()
    api = percentiles(
        timed_runs(lambda: client.get("/api/v1/trainings", {"q": "digital", "per_page": 20}), runs)
    )
    plans = {}
    if connection.vendor == "postgresql":
        plans = explain(connection, [s for s in SEARCHES if s[1].get("q")][:2])
    return {"bare": bare, "searches": results, "api": api, "plans": plans}


def explain(connection: Any, searches: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """PostgreSQL's plan of the count of a few word searches: is an index used?"""
    plans = {}
    for label, filters in searches:
        _found, statements = recorded(filters)
        sql, params = statements[0]  # the count
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plans[label] = "\n".join(row[0] for row in cursor.fetchall())
    return plans


TRIGRAM = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX bench_training_search_trgm ON catalog_training USING gin (search_text gin_trgm_ops)",
)


def engine_run(url: str, out: str, n: int, runs: int, trigram: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-catalog-") as folder:
        if not url.startswith("postgres"):
            url = f"sqlite:///{Path(folder) / 'catalog.sqlite3'}"
        setup(url, folder)
        from django.db import connection

        setup_seconds = seed(n, random.Random(1))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for statement in TRIGRAM if trigram else ():
                    cursor.execute(statement)
                cursor.execute("ANALYZE")
        result = measure(runs)
        result.update(
            vendor=connection.vendor,
            setup=setup_seconds,
            database=url.rsplit("/", 1)[-1]
            + (", with a trigram index" if trigram and url.startswith("postgres") else ""),
        )
        Path(out).write_text(json.dumps(result))


# --- the driver ---------------------------------------------------------------------------------------


def bench_url() -> str:
    """PostgreSQL for the benchmark: PRAKERJA_DATABASE_URL's server, in a database named for the benchmark."""
    url = os.environ.get("PRAKERJA_DATABASE_URL", "")
    if not url.startswith("postgres"):
        return DEFAULT_URL
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    # Never drop a database that is not a benchmark's own.
    return url if "bench" in name else urlunsplit(parts._replace(path="/prakerja_bench_catalog"))


def fresh_postgres(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to drop database {name!r}: a benchmark database's name contains 'bench'")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return url


def table(result: dict[str, Any], n: int, runs: int) -> Table:
    vendor = result["vendor"]
    bare50, bare99 = result["bare"]
    engine = "PostgreSQL" if vendor == "postgresql" else "SQLite"
    caption = (
        f"{n:,} approved trainings, {result['setup']['sessions']:,} sessions (written in "
        f"{result['setup']['trainings and sessions written']:.1f} s, not measured); {runs} runs each after 3 "
        "warm-ups, 20 per page. Ceiling: the same SQL statements (count and page) replayed on a bare "
        f"cursor, no model building. Bare SELECT 1: p50 {bare50:.3f} ms, p99 {bare99:.3f} ms. "
        f"GET /api/v1/trainings?q=digital through the test client: p50 {result['api'][0]:.1f} ms, "
        f"p99 {result['api'][1]:.1f} ms."
    )
    out = Table(title=f"Catalogue search on {engine} ({result['database']})", caption=caption)
    out.add_column("search", no_wrap=True)
    for column in ("matches", "shown", "ours p50 ms", "ours p99 ms", "ceiling p50", "ceiling p99", "share"):
        out.add_column(column, justify="right")
    if vendor == "postgresql":
        out.add_column(f"goal p50 < {GOAL_MS:.0f} ms", justify="right")
    for row in result["searches"]:
        (o50, o99), (c50, c99) = row["ours"], row["ceiling"]
        cells = [
            row["label"],
            f"{row['total']:,}",
            str(row["shown"]),
            f"{o50:.2f}",
            f"{o99:.2f}",
            f"{c50:.2f}",
            f"{c99:.2f}",
            f"{c50 / o50:.0%}",
        ]
        if vendor == "postgresql":
            cells.append("[green]met[/]" if o50 < GOAL_MS else "[red]missed[/]")
        out.add_row(*cells)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trainings", type=int, default=10_000, help="approved trainings (default 10,000)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each search (default 200)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--postgres", action="store_true", help="PostgreSQL only")
    only.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument("--plans", action="store_true", help="print PostgreSQL's plan of two word searches")
    parser.add_argument(
        "--trigram",
        action="store_true",
        help="on PostgreSQL, add a pg_trgm GIN index on search_text to the benchmark's database first",
    )
    parser.add_argument("--engine-run", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.engine_run:
        engine_run(*options.engine_run, options.trainings, options.runs, options.trigram)
        return
    if not console.is_terminal:
        console.width = 150  # a log file: wide enough for the tables
    engines = [] if options.postgres else ["sqlite"]
    if not options.sqlite:
        engines.append(fresh_postgres(bench_url()))
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-catalog-") as folder:
        for engine in engines:
            out = Path(folder) / "result.json"
            subprocess.run(  # noqa: S603 - this script, with our own interpreter
                [
                    *(sys.executable, __file__, "--engine-run", engine, str(out)),
                    *("--trainings", str(options.trainings), "--runs", str(options.runs)),
                    *(["--trigram"] if options.trigram else []),
                ],
                check=True,
            )
            result = json.loads(out.read_text())
            console.print(table(result, options.trainings, options.runs))
            if options.plans:
                for label, plan in result["plans"].items():
                    console.print(f"[bold]{label}[/] (count)\n{plan}")


if __name__ == "__main__":
    main()
