"""The payment providers (a bank and four e-wallets) behind one adapter; the real gateways are outside the
project. docs/payment-providers.md gives the wire shape that `HttpProviders` speaks and the simulator
answers."""

import http.client
import ipaddress
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from prakerja.core.errors import PrakerjaError


class ProviderUnavailable(PrakerjaError):
    status = 503
    code = "provider_unavailable"
    message = _("The payment provider cannot be reached right now; please try again later.")
    retry_after = 60


class ProviderRefused(PrakerjaError):
    """The gateway answered 4xx: the request itself is wrong, so sending it again will not help."""

    status = 502
    code = "provider_refused"
    message = _("The payment provider refused the request: %(reason)s")


@dataclass(frozen=True)
class AccountQuery:
    provider: str
    number: str
    name: str
    nik: str


@dataclass(frozen=True)
class AccountAnswer:
    status: str  # "match", "name_mismatch", "nik_mismatch" or "not_found"
    holder_name: str = ""  # masked, as the provider shows it
    reference: str = ""


@dataclass(frozen=True)
class Instruction:
    key: str
    number: str
    name: str
    amount: int


@dataclass(frozen=True)
class Receipt:
    reference: str
    accepted: int
    duplicates: int


class Providers(Protocol):
    def inquire(self, query: AccountQuery) -> AccountAnswer: ...

    def disburse(self, *, provider: str, chunk_key: str, instructions: list[Instruction]) -> Receipt: ...

    def settlement(self, *, provider: str) -> str: ...


def providers() -> Providers:
    adapter: Providers = import_string(settings.PAYMENT_PROVIDERS)()
    return adapter


ACCOUNT_STATUSES = frozenset({"match", "name_mismatch", "nik_mismatch", "not_found"})
INQUIRY_TIMEOUT = 10.0
DISBURSE_TIMEOUT = 30.0  # a chunk holds thousands of payments
SETTLEMENT_TIMEOUT = 60.0


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpProviders:
    """The one gateway that serves all five providers, spoken to over HTTP (settings.PAYMENT_PROVIDER_URL)."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = (base_url or settings.PAYMENT_PROVIDER_URL).rstrip("/")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError("PAYMENT_PROVIDER_URL must be an http or https URL")
        # A gateway on this machine (the simulator) is never reached through a proxy from the environment.
        handlers = [urllib.request.ProxyHandler({})] if _loopback(self.base_url) else []
        self._opener = urllib.request.build_opener(*handlers)

    def inquire(self, query: AccountQuery) -> AccountAnswer:
        payload = {"provider": query.provider, "number": query.number, "name": query.name, "nik": query.nik}
        answer = self._json("POST", "/v1/accounts/inquiry", payload, timeout=INQUIRY_TIMEOUT)
        status = answer.get("status")
        if status not in ACCOUNT_STATUSES:
            raise ProviderUnavailable()
        return AccountAnswer(
            status=str(status),
            holder_name=str(answer.get("holder_name") or ""),
            reference=str(answer.get("reference") or ""),
        )

    def disburse(self, *, provider: str, chunk_key: str, instructions: list[Instruction]) -> Receipt:
        payload = {
            "provider": provider,
            "chunk": chunk_key,
            "payments": [
                {"key": i.key, "number": i.number, "name": i.name, "amount": i.amount} for i in instructions
            ],
        }
        answer = self._json(
            "POST",
            "/v1/disbursements",
            payload,
            timeout=DISBURSE_TIMEOUT,
            headers={"Idempotency-Key": chunk_key},
        )
        try:
            return Receipt(
                reference=str(answer["reference"]),
                accepted=int(answer["accepted"]),
                duplicates=int(answer["duplicates"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable() from None

    def settlement(self, *, provider: str) -> str:
        return self._call(
            "GET", f"/v1/settlements/{quote(provider, safe='')}", None, SETTLEMENT_TIMEOUT, {}
        ).decode()

    def _json(
        self, method: str, path: str, payload: Any, *, timeout: float, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        raw = self._call(method, path, json.dumps(payload).encode(), timeout, headers or {})
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ProviderUnavailable() from None
        if not isinstance(answer, dict):
            raise ProviderUnavailable()
        return answer

    def _call(
        self, method: str, path: str, body: bytes | None, timeout: float, headers: dict[str, str]
    ) -> bytes:
        """The body of a 2xx; ProviderUnavailable when unreachable or 5xx, ProviderRefused on 4xx."""
        url = self.base_url + path  # http or https: checked when made
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=timeout) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as error:
            text = error.read()
            if error.code >= 500 or error.code < 400:
                raise ProviderUnavailable() from None
            raise ProviderRefused(reason=_refusal(error.code, text)) from None
        except (OSError, http.client.HTTPException, ValueError):
            # Refused or reset connections, timeouts, garbled answers: the request may be sent again.
            raise ProviderUnavailable() from None


def _refusal(status: int, body: bytes) -> str:
    """The gateway's reason for a 4xx, kept short; the gateway's own text never holds personal data."""
    try:
        reason = json.loads(body).get("error")
    except (ValueError, AttributeError):
        reason = None
    if not isinstance(reason, str) or not reason.strip():
        reason = f"HTTP {status}"
    return reason.strip()[:200]
