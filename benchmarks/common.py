"""What every benchmark shares: timing, and the table that sets our figure beside the ceiling."""

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import psycopg
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
console = Console()
# Measured as production runs: without DEBUG's record of every query (a benchmark may still ask for it).
os.environ.setdefault("PRAKERJA_DEBUG", "false")


def timed(work: Callable[[], T]) -> tuple[float, T]:
    """Seconds `work` took, and what it returned."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def report(
    title: str,
    rows: int,
    ours: tuple[str, float],
    ceiling: tuple[str, float],
    note: str,
    unit: str = "rows",
    others: Sequence[tuple[str, float]] = (),
) -> None:
    """Our figure, any `others` measured beside it, and the ceiling, each as a share of the ceiling."""
    table = Table(title=title, caption=note)
    for column in ("", unit, "seconds", f"{unit}/s", "share of ceiling"):
        table.add_column(column, justify="right" if column else "left")
    for label, seconds in (ours, *others, ceiling):
        share = ceiling[1] / seconds
        table.add_row(label, f"{rows:,}", f"{seconds:.3f}", f"{rows / seconds:,.0f}", f"{share:.1%}")
    console.print(table)


ADMIN_URL = os.environ.get("PRAKERJA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str) -> str:
    """Drop and create a PostgreSQL database for one benchmark; its URL."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def server_command(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The project's WSGI server from this virtualenv, as production runs it (granian: HTTP in Rust)."""
    return [
        str(Path(sys.executable).with_name("granian")),
        *("--interface", "wsgi", "--host", host, "--port", str(port)),
        *("--workers", str(workers), "--blocking-threads", str(threads)),
        *("--backlog", "2048", "--log-level", "warning"),
        "prakerja.wsgi:application",
    ]


def cpu_seconds(server: int) -> dict[str, float]:
    """CPU seconds used so far (Linux /proc): the machine busy in all, the server, PostgreSQL, this script."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4)) / tick  # all but idle and iowait
    used = {"machine busy": busy, "server": 0.0, "postgres": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        seconds = (int(rest[11]) + int(rest[12])) / tick  # utime + stime
        if int(stat.parent.name) == server or int(rest[1]) == server:
            used["server"] += seconds
        elif name.startswith("postgres"):
            # Plus the children it has reaped (cutime + cstime): the server's Django closes its connections
            # after CONN_MAX_AGE, and a closed session's backend takes its CPU time with it.
            used["postgres"] += seconds + (int(rest[13]) + int(rest[14])) / tick
    times = os.times()
    used["this script (clients)"] = times.user + times.system
    return used


def cpu_cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """The cores each part kept busy between two `cpu_seconds`, with what other processes used."""
    cores = {k: (after[k] - before[k]) / seconds for k in before}
    cores["other processes"] = cores["machine busy"] - sum(v for k, v in cores.items() if k != "machine busy")
    return cores
