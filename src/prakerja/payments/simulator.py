"""A stand-in for the payment gateway (BNI and four e-wallets): a separate HTTP server on loopback that checks
accounts, accepts disbursement chunks, calls back signed outcomes and serves settlement files.
docs/payment-providers.md gives the wire shape and the deterministic behaviours; standard library only."""

from __future__ import annotations

import hashlib
import heapq
import ipaddress
import itertools
import json
import logging
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prakerja.payments import rules

log = logging.getLogger("prakerja.payments.simulator")

PROVIDERS = ("bni", "ovo", "gopay", "linkaja", "dana")
WIB = timezone(timedelta(hours=7), "WIB")
FAILURE_REASONS = ("account closed", "limit exceeded", "account dormant", "account blocked")
RETURN_REASON = "returned by the receiving institution"
# Names a "999" account is held by instead of the person asking.
OTHER_HOLDERS = ("Siti Rahmawati", "Agus Prasetyo", "Dewi Lestari", "Joko Susilo")
MAX_BODY = 256 * 1024 * 1024
CALLBACK_TIMEOUT = 10.0
FORGED_STALE_SECONDS = 86_400  # a "stale" forgery is signed correctly but a day old


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port
    secret: str = ""
    callback_url: str | None = None
    failure_rate: float = 0.02
    return_rate: float = 0.005
    delay: float = 0.2  # seconds between acceptance and the first callback
    duplicate_rate: float = 0.0
    reorder: bool = False
    callback_batch: int = 1000
    forge_rate: float = 0.0
    seed: int = 0
    settlement_dir: str | Path | None = None
    state_file: str | Path | None = None
    callback_attempts: int = 4  # a callback is given up after this many failed tries
    retry_backoff: float = 0.5  # seconds before the first retry, doubled each time

    def __post_init__(self) -> None:
        for name in ("failure_rate", "return_rate", "duplicate_rate", "forge_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.delay < 0 or self.retry_backoff < 0:
            raise ValueError("delay and retry_backoff cannot be negative")
        if self.callback_batch < 1 or self.callback_attempts < 1:
            raise ValueError("callback_batch and callback_attempts must be at least 1")
        if self.callback_url is not None and urlsplit(self.callback_url).scheme not in ("http", "https"):
            raise ValueError("callback_url must be an http or https URL")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")


def is_loopback(host: str) -> bool:
    """Only a loopback address or the name localhost: the simulator never listens on a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


def _uniform(raw: bytes) -> float:
    """A fraction in [0, 1) from 8 bytes: 53 bits, so that it never rounds up to 1."""
    return (int.from_bytes(raw, "big") >> 11) / 2.0**53


def decide(seed: int, key: str, failure_rate: float, return_rate: float) -> tuple[str, str]:
    """A payment's final state and reason, decided by (seed, key) alone: "paid", "failed" or "returned"."""
    raw = _digest(seed, key)
    if _uniform(raw[:8]) < failure_rate:
        return "failed", FAILURE_REASONS[raw[16] % len(FAILURE_REASONS)]
    if _uniform(raw[8:16]) < return_rate:
        return "returned", RETURN_REASON
    return "paid", ""


def payment_reference(provider: str, key: str) -> str:
    return f"{provider.upper()}-{_digest('payment', provider, key).hex()[:16].upper()}"


def inquiry_answer(provider: str, number: str, name: str, nik: str) -> dict[str, str]:
    """The account check: the holder is whoever asks, except numbers ending 000, 999 and 998."""
    reference = f"INQ-{_digest('inquiry', provider, number, nik).hex()[:16].upper()}"
    if number.endswith("000"):
        return {"status": "not_found", "holder_name": "", "reference": reference}
    if number.endswith("999"):
        other = OTHER_HOLDERS[_digest("holder", number)[0] % len(OTHER_HOLDERS)]
        return {"status": "name_mismatch", "holder_name": rules.mask_name(other), "reference": reference}
    status = "nik_mismatch" if number.endswith("998") else "match"
    return {"status": status, "holder_name": rules.mask_name(name), "reference": reference}


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


def _moment(at: float) -> str:
    return datetime.fromtimestamp(at, WIB).isoformat(timespec="milliseconds")


class BadRequest(Exception):
    """A malformed request: answered 422 with the reason (never with the personal data sent)."""


@dataclass(order=True)
class _Due:
    """Callback events due at `due`; `formed` ones are one callback's events, kept together on a retry."""

    due: float
    seq: int
    provider: str = field(compare=False)
    events: list[dict[str, str]] = field(compare=False)
    attempt: int = field(default=0, compare=False)
    formed: bool = field(default=False, compare=False)
    copies: bool = field(default=False, compare=False)  # already duplicates: not duplicated again


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator


class _Server6(_Server):
    address_family = socket.AF_INET6


class Simulator:
    """The gateway's five providers in one loopback server; state in memory and in an optional journal."""

    def __init__(self, config: SimulatorConfig) -> None:
        if not is_loopback(config.host):
            raise ValueError(f"the simulator listens on loopback only, not on {config.host!r}")
        self.config = config
        self._lock = threading.Lock()  # the books: chunks, payments, journal, settlement files
        self._chunks: dict[str, dict[str, Any]] = {}
        # payment key -> (provider, reference, amount, state, reason, settled_at)
        self._payments: dict[str, tuple[str, str, int, str, str, str]] = {}
        self._order: dict[str, list[str]] = {p: [] for p in PROVIDERS}
        self._cond = threading.Condition()  # the callback queue
        self._queue: list[_Due] = []
        self._in_flight = 0
        self._seq = itertools.count()
        self._stopping = False
        self._rng = random.Random(config.seed)
        self._forged = 0
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._journal = None
        if config.state_file:
            self._replay(Path(config.state_file))
            self._journal = open(config.state_file, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            if self._journal.tell() and _last_byte(Path(config.state_file)) != b"\n":
                self._journal.write("\n")  # a line cut short by a crash stays alone, and skipped

    # -- life cycle ------------------------------------------------------------------------------------

    def _bind(self) -> _Server:
        server_class = _Server6 if ":" in self.config.host else _Server
        server = server_class((self.config.host, self.config.port), _Handler)
        server.simulator = self
        return server

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> str:
        """Serve in a background thread; return the base URL."""
        self._server = self._bind()
        serving = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="payment-simulator", daemon=True
        )
        worker = threading.Thread(target=self._work, name="payment-simulator-callbacks", daemon=True)
        self._threads = [serving, worker]
        for thread in self._threads:
            thread.start()
        return self.url

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI)."""
        self._server = self._bind()
        worker = threading.Thread(target=self._work, name="payment-simulator-callbacks", daemon=True)
        self._threads = [worker]
        worker.start()
        log.info("payment simulator listening on %s", self.url)
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()
            self._server = None
            self._halt()

    def stop(self) -> None:
        """Stop serving and calling back; callbacks still queued are dropped (flush first to send them)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._halt()

    def _halt(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=CALLBACK_TIMEOUT + 5)
        self._threads = []
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued callback was attempted (retries included); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._in_flight, timeout=timeout)

    # -- the books --------------------------------------------------------------------------------------

    def _replay(self, path: Path) -> None:
        if not path.exists():
            return
        with path.open(encoding="utf-8") as journal:
            for number, line in enumerate(journal, 1):
                try:
                    entry = json.loads(line)
                    chunk, provider, answer = entry["chunk"], entry["provider"], entry["answer"]
                    payments = [
                        (str(k), str(r), int(a), str(s), str(why), str(at))
                        for k, r, a, s, why, at in entry["payments"]
                    ]
                except (ValueError, KeyError, TypeError):
                    log.warning(
                        "journal %s line %d is unreadable; skipped (a write cut short?)", path, number
                    )
                    continue
                self._chunks[chunk] = answer
                for key, reference, amount, state, reason, at in payments:
                    if key not in self._payments:
                        self._payments[key] = (provider, reference, amount, state, reason, at)
                        self._order[provider].append(key)

    def disburse(self, provider: str, chunk: str, payments: list[dict[str, Any]]) -> dict[str, Any]:
        """Accept a chunk: each new payment key once, ever; the same chunk again gets the first answer."""
        with self._lock:
            if chunk in self._chunks:
                return self._chunks[chunk]
            now = time.time()
            paid_at = now + self.config.delay
            returned_at = paid_at + max(self.config.delay, 0.001)
            accepted: list[tuple[str, str, int, str, str, str]] = []
            fresh: set[str] = set()
            duplicates = 0
            for payment in payments:
                key = payment["key"]
                if key in self._payments or key in fresh:
                    duplicates += 1
                    continue
                fresh.add(key)
                state, reason = decide(
                    self.config.seed, key, self.config.failure_rate, self.config.return_rate
                )
                at = _moment(returned_at if state == "returned" else paid_at)
                accepted.append((key, payment_reference(provider, key), payment["amount"], state, reason, at))
            reference = f"SIM-{provider.upper()}-{_digest('chunk', chunk).hex()[:16].upper()}"
            answer = {"reference": reference, "accepted": len(accepted), "duplicates": duplicates}
            if self._journal is not None:
                entry = {"chunk": chunk, "provider": provider, "answer": answer, "payments": accepted}
                self._journal.write(json.dumps(entry, separators=(",", ":")) + "\n")
                self._journal.flush()
                os.fsync(self._journal.fileno())
            self._chunks[chunk] = answer
            for key, *rest in accepted:
                self._payments[key] = (provider, *rest)  # type: ignore[assignment]
                self._order[provider].append(key)
            if self.config.settlement_dir and accepted:
                self._append_settlement(provider, now, accepted)
        if self.config.callback_url and accepted:
            self._enqueue(provider, accepted, paid_at, returned_at)
        return answer

    def settlement(self, provider: str) -> str:
        """Every payment of the provider in acceptance order, with its final state."""
        with self._lock:
            rows = [
                (key, *self._payments[key][1:3], self._payments[key][3], self._payments[key][5])
                for key in self._order[provider]
            ]
        lines = [",".join(rules.SETTLEMENT_HEADER)]
        lines.extend(f"{key},{reference},{amount},{state},{at}" for key, reference, amount, state, at in rows)
        return "\r\n".join(lines) + "\r\n"

    def _append_settlement(
        self, provider: str, now: float, accepted: list[tuple[str, str, int, str, str, str]]
    ) -> None:
        folder = Path(self.config.settlement_dir)  # type: ignore[arg-type]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{provider}-{datetime.fromtimestamp(now, WIB):%Y%m%d}.csv"
        new = not path.exists()
        with path.open("a", encoding="utf-8", newline="") as out:
            if new:
                out.write(",".join(rules.SETTLEMENT_HEADER) + "\r\n")
            out.writelines(
                f"{key},{reference},{amount},{state},{at}\r\n"
                for key, reference, amount, state, _, at in accepted
            )

    # -- callbacks --------------------------------------------------------------------------------------

    def _enqueue(
        self,
        provider: str,
        accepted: list[tuple[str, str, int, str, str, str]],
        paid_at: float,
        returned_at: float,
    ) -> None:
        first: list[dict[str, str]] = []
        later: list[dict[str, str]] = []
        paid_moment = _moment(paid_at)
        for key, reference, _, state, reason, at in accepted:
            if state == "returned":
                first.append(
                    {"key": key, "state": "paid", "reference": reference, "reason": "", "at": paid_moment}
                )
                later.append(
                    {"key": key, "state": "returned", "reference": reference, "reason": reason, "at": at}
                )
            else:
                first.append({"key": key, "state": state, "reference": reference, "reason": reason, "at": at})
        with self._cond:
            if self.config.reorder:  # a return may then be called back before its payment
                self._push(_Due(paid_at, next(self._seq), provider, first + later))
            else:
                self._push(_Due(paid_at, next(self._seq), provider, first))
                if later:
                    self._push(_Due(returned_at, next(self._seq), provider, later))

    def _push(self, item: _Due) -> None:
        heapq.heappush(self._queue, item)
        self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._queue or self._queue[0].due > time.time()):
                    wait = self._queue[0].due - time.time() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stopping:
                    return
                now = time.time()
                due: list[_Due] = []
                while self._queue and self._queue[0].due <= now:
                    due.append(heapq.heappop(self._queue))
                self._in_flight += 1
            try:
                for item in self._form(due):
                    if self._stopping:
                        break
                    self._call(item)
            except Exception:  # the worker must outlive any one callback
                log.exception("payment simulator callback worker")
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _form(self, due: list[_Due]) -> list[_Due]:
        """Due events grouped per provider (shuffled when reordering) into callbacks of `callback_batch`."""
        formed = [item for item in due if item.formed]
        pooled: dict[tuple[str, bool], list[dict[str, str]]] = {}
        for item in due:
            if not item.formed:
                pooled.setdefault((item.provider, item.copies), []).extend(item.events)
        size = self.config.callback_batch
        for (provider, copies), events in pooled.items():
            if self.config.reorder:
                self._rng.shuffle(events)
            for start in range(0, len(events), size):
                batch = events[start : start + size]
                formed.append(_Due(0.0, next(self._seq), provider, batch, formed=True, copies=copies))
        return formed

    def _call(self, item: _Due) -> None:
        url = self.config.callback_url
        assert url is not None
        body = json.dumps({"provider": item.provider, "events": item.events}, separators=(",", ":")).encode()
        key = rules.provider_key(self.config.secret, item.provider)
        if item.attempt == 0 and self.config.forge_rate and self._rng.random() < self.config.forge_rate:
            self._send_forgery(url, key, item.provider, body)
        timestamp = int(time.time())
        status = self._post(url, body, timestamp, rules.callback_signature(key, timestamp, body))
        if 200 <= status < 300:
            if not item.copies and self.config.duplicate_rate:
                again = [e for e in item.events if self._rng.random() < self.config.duplicate_rate]
                if again:
                    with self._cond:
                        self._push(
                            _Due(
                                time.time() + self.config.delay,
                                next(self._seq),
                                item.provider,
                                again,
                                copies=True,
                            )
                        )
            return
        if item.attempt + 1 >= self.config.callback_attempts:
            log.warning(
                "callback of %d %s events given up after %d attempts (last status %s)",
                len(item.events),
                item.provider,
                item.attempt + 1,
                status or "no connection",
            )
            return
        retry_at = time.time() + self.config.retry_backoff * 2**item.attempt
        with self._cond:
            self._push(
                _Due(
                    retry_at,
                    next(self._seq),
                    item.provider,
                    item.events,
                    item.attempt + 1,
                    formed=True,
                    copies=item.copies,
                )
            )

    def _send_forgery(self, url: str, key: bytes, provider: str, body: bytes) -> None:
        """An extra copy of a callback, to be refused: by turns a wrong signature and a stale timestamp."""
        self._forged += 1
        timestamp = int(time.time())
        if self._forged % 2:
            signature = rules.callback_signature(
                rules.provider_key("forged-" + self.config.secret, provider), timestamp, body
            )
        else:
            timestamp -= FORGED_STALE_SECONDS
            signature = rules.callback_signature(key, timestamp, body)
        self._post(url, body, timestamp, signature)

    def _post(self, url: str, body: bytes, timestamp: int, signature: str) -> int:
        """The callback's HTTP status, 0 when it could not be delivered."""
        request = urllib.request.Request(  # noqa: S310 - the config allows http(s) only
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Callback-Timestamp": str(timestamp),
                "X-Callback-Signature": signature,
            },
        )
        try:
            with self._opener.open(request, timeout=CALLBACK_TIMEOUT) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            error.read()
            return int(error.code)
        except (OSError, ValueError) as error:  # URLError, refused, reset, timeout
            log.info("callback to %s failed: %s", urlsplit(url).netloc, error)
            return 0


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def _provider(payload: dict[str, Any]) -> str:
    provider = _text(payload, "provider")
    if provider not in PROVIDERS:
        raise BadRequest(f"unknown provider; expected one of {', '.join(PROVIDERS)}")
    return provider


def parse_disbursement(payload: Any, idempotency_key: str | None) -> tuple[str, str, list[dict[str, Any]]]:
    """The provider, chunk key and payments of a disbursement request, or BadRequest."""
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    provider = _provider(payload)
    chunk = _text(payload, "chunk")
    if not chunk:
        raise BadRequest("chunk must not be empty")
    if idempotency_key != chunk:
        raise BadRequest("the Idempotency-Key header must be the chunk key")
    payments = payload.get("payments")
    if not isinstance(payments, list):
        raise BadRequest("payments must be a list")
    for index, payment in enumerate(payments):
        if not isinstance(payment, dict):
            raise BadRequest(f"payments[{index}] must be an object")
        key, amount = payment.get("key"), payment.get("amount")
        if not isinstance(key, str) or not key:
            raise BadRequest(f"payments[{index}].key is missing")
        if "," in key or "\n" in key or "\r" in key:
            raise BadRequest(f"payments[{index}].key may not hold commas or line breaks")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise BadRequest(f"payments[{index}].amount must be a positive whole number of rupiah")
        if not isinstance(payment.get("number"), str) or not isinstance(payment.get("name"), str):
            raise BadRequest(f"payments[{index}].number and .name must be strings")
    return provider, chunk, payments


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        simulator = self.server.simulator
        if path == "/v1/health":
            self._json(200, {"status": "ok"})
        elif path.startswith("/v1/settlements/"):
            provider = path.removeprefix("/v1/settlements/")
            if provider not in PROVIDERS:
                self._json(404, {"error": "unknown provider"})
            else:
                self._send(200, simulator.settlement(provider).encode(), "text/csv; charset=utf-8")
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        simulator = self.server.simulator
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._json(422, {"error": "a Content-Length up to 256 MiB is needed"})
            return
        raw = self.rfile.read(length)
        if path not in ("/v1/accounts/inquiry", "/v1/disbursements"):
            self._json(404, {"error": "not found"})
            return
        try:
            try:
                payload = json.loads(raw)
            except ValueError:
                raise BadRequest("the body is not JSON") from None
            if path == "/v1/accounts/inquiry":
                if not isinstance(payload, dict):
                    raise BadRequest("the body must be a JSON object")
                provider = _provider(payload)
                number, name, nik = (_text(payload, n) for n in ("number", "name", "nik"))
                self._json(200, inquiry_answer(provider, number, name, nik))
            else:
                provider, chunk, payments = parse_disbursement(payload, self.headers.get("Idempotency-Key"))
                self._json(202, simulator.disburse(provider, chunk, payments))
        except BadRequest as problem:
            self._json(422, {"error": str(problem)})
