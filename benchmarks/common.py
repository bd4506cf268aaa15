"""What every benchmark shares: timing, and the table that sets our figure beside the ceiling."""

import os
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
console = Console()


def timed(work: Callable[[], T]) -> tuple[float, T]:
    """Seconds `work` took, and what it returned."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def report(
    title: str, rows: int, ours: tuple[str, float], ceiling: tuple[str, float], note: str, unit: str = "rows"
) -> None:
    table = Table(title=title, caption=note)
    for column in ("", unit, "seconds", f"{unit}/s", "share of ceiling"):
        table.add_column(column, justify="right" if column else "left")
    for (label, seconds), share in ((ours, ceiling[1] / ours[1]), (ceiling, 1.0)):
        table.add_row(label, f"{rows:,}", f"{seconds:.3f}", f"{rows / seconds:,.0f}", f"{share:.1%}")
    console.print(table)


ADMIN_URL = os.environ.get("PRAKERJA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str) -> str:
    """Drop and create a PostgreSQL database for one benchmark; its URL."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
