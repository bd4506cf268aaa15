"""Registration API under load on PostgreSQL: logged-in, verified participants register through
POST /api/v1/registry/registrations on a real server (granian) from concurrent keep-alive clients on
loopback, beside the same server answering GET /api/v1/health under the same load, and the same registrations
through the service alone, with no HTTP (`make bench`)."""

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import django
from django.core.management import call_command
from rich.table import Table

from common import console, cpu_cores, cpu_seconds, fresh_database, report, server_command

HOST, PORT = "127.0.0.1", 8765
CSRF = "loadtestcsrfsecret0123456789abcd"  # 32 characters: an unmasked CSRF secret in cookie and header


def prepare(n: int) -> list[tuple[int, str, bytes]]:
    """`n` verified participants with live sessions: each one's user id, session key and registration body."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from prakerja.accounts.models import Role, User
    from prakerja.identity.generator import generate_people
    from prakerja.regions.models import Level, Region

    villages = list(Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural"))
    people = list(generate_people(n, villages=villages, seed=3, today=date(2026, 1, 1)))
    now = timezone.now()
    unusable = make_password(None)
    User.objects.bulk_create(
        (
            User(
                username=f"load{i}@example.org",
                email=f"load{i}@example.org",
                role=Role.PARTICIPANT,
                password=unusable,
                email_verified_at=now,
                phone_verified_at=now,
            )
            for i in range(n)
        ),
        batch_size=2000,
    )
    users = list(User.objects.filter(username__startswith="load").order_by("id"))
    store = SessionStore()
    sessions, work = [], []
    for user, person in zip(users, people, strict=True):
        key = secrets.token_hex(16)
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "prakerja.accounts.sessions.UserBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=now + timedelta(1))
        )
        body = {
            "nik": person.nik,
            "kk": person.kk,
            "full_name": person.full_name,
            "birth_date": person.birth_date,
            "sex": person.sex,
            "village_code": person.village_code,
            "rural": person.rural == "true",
            "education": person.education,
            "employment_status": person.employment_status,
            "disability": person.disability == "true",
            "consents": ["consent", "self_declaration"],
        }
        work.append((user.pk, key, json.dumps(body).encode()))
    Session.objects.bulk_create(sessions, batch_size=2000)
    return work


def request_bytes(method: str, path: str, session: str = "", body: bytes = b"") -> bytes:
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}:{PORT}",
        "Accept-Language: id",
        f"Content-Length: {len(body)}",
    ]
    if session:
        head += [
            "Content-Type: application/json",
            f"Cookie: sessionid={session}; csrftoken={CSRF}",
            f"X-CSRFToken: {CSRF}",
        ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def client(queue: list[bytes], latencies: list[float], statuses: Counter[int], deadline: float) -> None:
    reader = writer = None
    while queue and time.monotonic() < deadline:
        payload = queue.pop()
        if writer is None:
            reader, writer = await asyncio.open_connection(HOST, PORT)
        assert reader is not None
        start = time.perf_counter()
        writer.write(payload)
        status_line = await reader.readline()
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            if name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await reader.readexactly(length)
        status = int(status_line.split()[1]) if status_line else 0
        statuses[status] += 1
        if status == 503:  # shed: this client waits a moment and sends the same registration again
            queue.insert(0, payload)
            await asyncio.sleep(0.05)
        else:
            latencies.append(time.perf_counter() - start)
        if close or not status_line:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def load(
    payloads: list[bytes], concurrency: int, limit: float
) -> tuple[float, list[float], Counter[int]]:
    queue = payloads[::-1]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    deadline = time.monotonic() + limit
    await asyncio.gather(*(client(queue, latencies, statuses, deadline) for _ in range(concurrency)))
    return time.perf_counter() - start, latencies, statuses


def _register_share(share: list[tuple[int, bytes]], threads: int, barrier: Any) -> None:
    """A child process: register its share from `threads` threads through the service, as the API does."""
    from django.db import connections

    from prakerja.accounts.models import User
    from prakerja.core.errors import Overloaded
    from prakerja.registry import services

    users = User.objects.in_bulk([user for user, _body in share])
    queue, lock = list(share), threading.Lock()
    connections.close_all()  # each thread opens its own, as the server's do

    def register() -> None:
        while True:
            with lock:
                if not queue:
                    break
                user, body = queue.pop()
            data = json.loads(body)
            consents = data.pop("consents")
            data.update(rural=str(data["rural"]).lower(), disability=str(data["disability"]).lower())
            while True:
                try:
                    services.applicant_register(user=users[user], data=data, consents=consents, source="api")
                    break
                except Overloaded:  # shed, as a client would be: try again a moment later
                    time.sleep(0.005)
        connections.close_all()

    barrier.wait()
    workers = [threading.Thread(target=register) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    barrier.wait()  # done: the parent reads the CPU used while this process still exists


def service_alone(
    work: list[tuple[int, bytes]], processes: int, threads: int
) -> tuple[float, dict[str, float]]:
    """Seconds to register `work` by calling the service in `processes` x `threads` threads, with no HTTP,
    middleware, session or API layer, and the cores each part used meanwhile."""
    from django.db import connections

    connections.close_all()  # not shared with the children
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    children = [
        context.Process(target=_register_share, args=(work[i::processes], threads, barrier))
        for i in range(processes)
    ]
    for child in children:
        child.start()
    barrier.wait(timeout=300)  # a child that dies breaks the barrier: the benchmark stops, never hangs
    start, before = time.perf_counter(), cpu_seconds(os.getpid())
    barrier.wait(timeout=600)
    seconds = time.perf_counter() - start
    cores = cpu_cores(before, cpu_seconds(os.getpid()), seconds)
    for child in children:
        child.join()
    return seconds, cores


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=1000)[int(share * 1000) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # Enough for a serving process to warm up as it would in production (the villages of 514 regencies).
    parser.add_argument("--n", type=int, default=20_000, help="registrations to send (default 20,000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker (default 16)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prakerja-load-") as name:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prakerja.settings",
            "PRAKERJA_WORK_DIR": name,
            "PRAKERJA_DATABASE_URL": fresh_database("prakerja_load"),
            "PRAKERJA_DEBUG": "false",
            "PRAKERJA_NOTIFY_BACKEND": "file",
            "PRAKERJA_NOTIFY_DIR": str(Path(name) / "outbox"),
            # Messages wait in the outbox for `prakerja outbox send`, as in production.
            "PRAKERJA_NOTIFY_INLINE": "0",
        }
        os.environ.update(env)
        django.setup()
        call_command("migrate", verbosity=0)
        call_command("regions", "load", stdout=io.StringIO())
        work = prepare(2 * options.n)  # half through HTTP, half through the service alone
        runs: dict[str, tuple[float, list[float], Counter[int]]] = {}
        server = subprocess.Popen(  # noqa: S603 - our own server from this virtualenv
            server_command(HOST, PORT, options.workers, options.threads), env=env
        )
        try:
            for _ in range(100):
                try:
                    asyncio.run(load([request_bytes("GET", "/api/v1/health")], 1, 5))
                    break
                except OSError:
                    time.sleep(0.1)
            health = [request_bytes("GET", "/api/v1/health") for _ in range(options.n)]
            posts = [
                request_bytes("POST", "/api/v1/registry/registrations", key, body)
                for _user, key, body in work[: options.n]
            ]
            cpu = {}
            for label, payloads, limit in (("health checks", health, 300), ("registrations", posts, 600)):
                before = cpu_seconds(server.pid)
                runs[label] = asyncio.run(load(payloads, options.clients, limit))
                cpu[label] = cpu_cores(before, cpu_seconds(server.pid), runs[label][0])
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        alone = service_alone(
            [(u, body) for u, _key, body in work[options.n :]], options.workers, options.threads
        )
        from prakerja.registry.models import Applicant

        registered = Applicant.objects.count()
    for label in ("registrations", "health checks"):
        seconds, latencies, statuses = runs[label]
        table = Table(title=f"{label}: {len(latencies):,} requests from {options.clients} clients")
        for column in ("p50 ms", "p95 ms", "p99 ms", "max ms", "statuses"):
            table.add_column(column, justify="right")
        table.add_row(
            *(f"{percentile(latencies, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99)),
            f"{max(latencies) * 1000:.0f}",
            ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())),
        )
        console.print(table)
        per_request = 1000 * seconds / sum(statuses.values())
        console.print(
            f"Where the time goes ({label}), CPU in cores of {os.cpu_count()} and ms per request: "
            + ", ".join(f"{k} {v:.2f} ({v * per_request:.2f} ms)" for k, v in cpu[label].items())
        )
    seconds, cores = alone
    console.print(
        f"Where the time goes (the service alone, {options.workers} processes x {options.threads} threads, "
        "no HTTP), CPU in cores and ms per registration: "
        + ", ".join(f"{k} {v:.2f} ({v * 1000 * seconds / options.n:.2f} ms)" for k, v in cores.items())
    )
    ours, ceiling = runs["registrations"], runs["health checks"]
    report(
        f"5. Registration API under load ({options.clients} clients, "
        f"granian {options.workers}x{options.threads})",
        len(ours[1]),
        ("ours: POST /registry/registrations", ours[0]),
        ("ceiling: GET /health", ceiling[0]),
        f"{registered:,} applicants stored (half of them by the service alone); the ceiling is the same "
        "server answering its health check (session-free, one SELECT 1)",
        unit="requests",
        others=[("the service alone: applicant_register, no HTTP", seconds)],
    )


if __name__ == "__main__":
    main()
