"""A reference partner using only the public HTTP API and the OpenAPI document; imports no prakerja code."""

from __future__ import annotations

import base64
import email.utils
import io
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

PARTNER = "/api/v1/partner"
OPENAPI = "/api/v1/openapi.json"
# The operations the sim calls; each must be in the server's OpenAPI document before anything runs.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("post", f"{PARTNER}/token"),
    ("post", f"{PARTNER}/cards/links"),
    ("post", f"{PARTNER}/cards/links/confirm"),
    ("post", f"{PARTNER}/purchases"),
    ("get", f"{PARTNER}/purchases/{{purchase_id}}"),
    ("post", f"{PARTNER}/vouchers/lookup"),
    ("post", f"{PARTNER}/vouchers/redeem"),
    ("post", f"{PARTNER}/vouchers/attendance"),
    ("post", f"{PARTNER}/vouchers/post-test"),
    ("post", f"{PARTNER}/vouchers/completion"),
    ("get", "/api/v1/trainings/{training_id}"),
)
CodeKind = Literal["link", "voucher"]
# Plays the participant's phone: (card number, "link" or "voucher") -> the code the participant received.
CodeSource = Callable[[str, CodeKind], str]


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Transport(Protocol):
    """Sends one request; raises OSError when the network fails (the answer, if any, is lost)."""

    def __call__(self, request: Request) -> Response: ...


class UrllibTransport:
    """HTTP over the standard library; non-2xx answers are answers, not exceptions."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout

    def __call__(self, request: Request) -> Response:
        if not request.url.startswith(("http://", "https://")):
            raise ValueError(f"not an HTTP address: {request.url}")
        raw = urllib.request.Request(request.url, data=request.body, headers=request.headers)  # noqa: S310
        raw.method = request.method
        try:
            with urllib.request.urlopen(raw, timeout=self.timeout) as answer:  # noqa: S310 - checked above
                return Response(answer.status, _lower(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, _lower(error.headers.items()), error.read())
        except urllib.error.URLError as error:
            raise ConnectionError(str(error.reason)) from error


class WsgiTransport:
    """Calls a WSGI application in this thread: the same HTTP requests without a socket."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, request: Request) -> Response:
        url = urllib.parse.urlsplit(request.url)
        body = request.body or b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote(url.path),
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "127.0.0.1",
            "SERVER_PORT": str(url.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started["status"], started["headers"] = int(status.split()[0]), headers

        chunks = self.app(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return Response(started["status"], _lower(started["headers"]), content)


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


class OpenApiMismatch(RuntimeError):
    """The server's OpenAPI document lacks an operation the sim needs."""


class ApiError(RuntimeError):
    """A refusal by the API: its status and stable code (problem type or OAuth2 error)."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"{status} {code}: {detail}" if detail else f"{status} {code}")
        self.status, self.code, self.detail = status, code, detail


def operations_check(base_url: str, transport: Transport) -> dict[str, Any]:
    """Read the OpenAPI document and refuse to start if an operation the sim calls is missing."""
    try:
        answer = transport(Request("GET", base_url.rstrip("/") + OPENAPI, {"Accept": "application/json"}))
    except OSError as error:
        raise OpenApiMismatch(f"Cannot read {base_url}{OPENAPI}: {error}") from error
    if answer.status != 200:
        raise OpenApiMismatch(f"Cannot read {base_url}{OPENAPI}: HTTP {answer.status}")
    paths = answer.json().get("paths", {})
    missing = [f"{m.upper()} {p}" for m, p in OPERATIONS if m not in paths.get(p, {})]
    if missing:
        raise OpenApiMismatch(
            "The server's OpenAPI document lacks operations this client needs: " + ", ".join(missing)
        )
    return answer.json()


def _error_of(answer: Response) -> ApiError:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "type" in body:
        return ApiError(answer.status, str(body["type"]).rsplit(":", 1)[-1], str(body.get("detail", "")))
    if isinstance(body, dict) and "error" in body:
        return ApiError(answer.status, str(body["error"]), str(body.get("error_description", "")))
    return ApiError(answer.status, f"http_{answer.status}")


def _retry_after(answer: Response, default: float) -> float:
    value = answer.headers.get("retry-after", "")
    if value.isdigit():
        return float(value)
    when = email.utils.parsedate_to_datetime(value) if value else None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when else default


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str


class PartnerClient:
    """One partner's session: a token refreshed before it expires, retries that are safe to make."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        transport: Transport | None = None,
        attempts: int = 5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.transport = transport or UrllibTransport()
        self.attempts, self.max_wait, self.sleep, self.clock = attempts, max_wait, sleep, clock
        self._token, self._expires = "", 0.0
        self.retries = 0  # how many requests were sent again, for the summary

    def _send(self, request: Request) -> Response:
        """Send, again on a network failure, a 5xx or a Retry-After; the caller keeps the body and key."""
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self.transport(request)
            except OSError:
                if attempt == self.attempts:
                    raise
                self.retries += 1
                self.sleep(min(self.max_wait, 0.2 * 2**attempt))
                continue
            transient = answer.status >= 500 or answer.status == 429 or "retry-after" in answer.headers
            if not transient or attempt == self.attempts:
                return answer
            self.retries += 1
            self.sleep(min(self.max_wait, _retry_after(answer, 0.2 * 2**attempt)))
        raise AssertionError("unreachable")

    def token(self) -> str:
        """A valid access token: a new one when the last is within 30 seconds of expiring."""
        if self._token and self.clock() < self._expires - 30:
            return self._token
        basic = base64.b64encode(f"{self.credentials.client_id}:{self.credentials.secret}".encode()).decode()
        answer = self._send(
            Request(
                "POST",
                f"{self.base_url}{PARTNER}/token",
                {
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                b"grant_type=client_credentials",
            )
        )
        if answer.status != 200:
            raise _error_of(answer)
        body = answer.json()
        self._token, self._expires = body["access_token"], self.clock() + float(body.get("expires_in", 0))
        return self._token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; a write gets one fresh Idempotency-Key that every retry of it reuses."""
        headers = {"Accept": "application/json", "Accept-Language": "en"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        if method not in ("GET", "HEAD") and path != "/vouchers/lookup":  # a lookup is a read sent as POST
            headers["Idempotency-Key"] = str(uuid.uuid4())
        url = self.base_url + (path if path.startswith("/api/") else PARTNER + path)
        for renewed in (False, True):
            answer = self._send(
                Request(method, url, {**headers, "Authorization": f"Bearer {self.token()}"}, data)
            )
            expired = answer.status == 401 and _error_of(answer).code in ("token_expired", "invalid_token")
            if expired and not renewed:  # the token died early (rotation, clock skew): one new token
                self._token = ""
                continue
            break
        if answer.status >= 400:
            raise _error_of(answer)
        return answer.json()

    def public(self, path: str) -> Any:
        """A read of the open catalogue, without a token."""
        answer = self._send(Request("GET", self.base_url + path, {"Accept": "application/json"}))
        if answer.status >= 400:
            raise _error_of(answer)
        return answer.json()


@dataclass(frozen=True)
class Offer:
    """A training the platform lists, the institution that teaches it, and the session to attend if any."""

    training_id: int
    institution: Credentials
    session_id: int | None = None


@dataclass
class Outcome:
    card_last4: str
    training_id: int
    purchase_id: int | None = None
    redeemed: bool = False
    completed: bool = False
    certificate_code: str | None = None
    verify_url: str | None = None
    error: str | None = None  # the stable code of the refusal that stopped this participant
    stage: str | None = None


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    retries: int = 0

    def counts(self) -> dict[str, Any]:
        done = self.outcomes
        return {
            "participants": len(done),
            "purchases": sum(o.purchase_id is not None for o in done),
            "redeemed": sum(o.redeemed for o in done),
            "completed": sum(o.completed for o in done),
            "certificates": sum(o.certificate_code is not None for o in done),
            "retries": self.retries,
            "errors": dict(Counter(o.error for o in done if o.error)),
        }

    def as_json(self) -> dict[str, Any]:
        return {**self.counts(), "participants_detail": [asdict(o) for o in self.outcomes]}


class Simulation:
    """Plays a platform and its institutions through link, purchase, redemption, attendance and completion."""

    def __init__(
        self,
        base_url: str,
        platform: Credentials,
        code_source: CodeSource,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url, self.code_source = base_url, code_source
        self.transport = transport or UrllibTransport()
        self.sleep = sleep
        operations_check(base_url, self.transport)
        self.platform = self._client(platform)
        self._institutions: dict[str, PartnerClient] = {}
        self._modes: dict[int, str] = {}

    def _client(self, credentials: Credentials) -> PartnerClient:
        return PartnerClient(self.base_url, credentials, transport=self.transport, sleep=self.sleep)

    def institution(self, credentials: Credentials) -> PartnerClient:
        if credentials.client_id not in self._institutions:
            self._institutions[credentials.client_id] = self._client(credentials)
        return self._institutions[credentials.client_id]

    def _mode(self, offer: Offer) -> str:
        """The training's mode from the open catalogue: an in-person training needs a session to redeem."""
        if offer.training_id not in self._modes:
            detail = self.platform.public(f"/api/v1/trainings/{offer.training_id}")
            self._modes[offer.training_id] = detail["mode"]
        return self._modes[offer.training_id]

    def participant(self, card_number: str, offer: Offer) -> Outcome:
        """One participant through the whole flow; a refusal stops them and is recorded, not raised."""
        outcome = Outcome(card_last4=card_number[-4:], training_id=offer.training_id)
        shop, school = self.platform, self.institution(offer.institution)
        try:
            outcome.stage = "catalogue"
            if self._mode(offer) != "online" and offer.session_id is None:
                raise ApiError(0, "session_needed", f"training {offer.training_id} is taught in person")
            outcome.stage = "link"
            shop.call("POST", "/cards/links", {"card_number": card_number})
            code = self.code_source(card_number, "link")
            shop.call("POST", "/cards/links/confirm", {"card_number": card_number, "code": code})
            outcome.stage = "purchase"
            sale = shop.call(
                "POST", "/purchases", {"card_number": card_number, "training_id": offer.training_id}
            )
            outcome.purchase_id = sale["id"]
            voucher = self.code_source(card_number, "voucher")  # the participant shows it at the institution
            outcome.stage = "redeem"
            seen = school.call("POST", "/vouchers/lookup", {"code": voucher})
            if seen["purchase_id"] != sale["id"]:
                raise ApiError(0, "voucher_mismatch", "the participant's voucher is for another purchase")
            school.call("POST", "/vouchers/redeem", {"code": voucher, "session_id": offer.session_id})
            outcome.redeemed = True
            outcome.stage = "attendance"
            ended = datetime.now(UTC)
            school.call(
                "POST",
                "/vouchers/attendance",
                {
                    "code": voucher,
                    "session_id": offer.session_id,
                    "started_at": (ended - timedelta(hours=2)).isoformat(),
                    "ended_at": ended.isoformat(),
                    "method": "online_log" if offer.session_id is None else "qr_scan",
                    "evidence": f"partner-sim attendance of purchase {sale['id']}",
                },
            )
            outcome.stage = "completion"
            school.call("POST", "/vouchers/post-test", {"code": voucher, "score": 80})
            certificate = school.call("POST", "/vouchers/completion", {"code": voucher})
            outcome.certificate_code, outcome.verify_url = (
                certificate["certificate_code"],
                certificate["verify_url"],
            )
            outcome.completed = shop.call("GET", f"/purchases/{sale['id']}")["status"] == "completed"
            outcome.stage = None
        except ApiError as error:
            outcome.error = error.code
        except OSError:
            outcome.error = "network"
        return outcome

    def run(
        self,
        cards: Iterable[str],
        offers: list[Offer],
        progress: Callable[[Outcome], None] | None = None,
    ) -> Summary:
        """Each card buys the next offer in turn."""
        if not offers:
            raise ValueError("no trainings to sell")
        # Credentials are checked once up front: a refused client would otherwise fail every participant.
        for client in (self.platform, *(self.institution(o.institution) for o in offers)):
            client.token()
        summary = Summary()
        for n, card in enumerate(cards):
            outcome = self.participant(card, offers[n % len(offers)])
            summary.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        clients = [self.platform, *self._institutions.values()]
        summary.retries = sum(c.retries for c in clients)
        return summary
