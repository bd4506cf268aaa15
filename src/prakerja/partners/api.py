"""The partner API at /api/v1/partner/: OAuth2 client-credentials tokens, Bearer authentication with
scopes and per-client rate limits, webhook settings and delivery log. Partner endpoints are added to
`router`; see docs/partner-api.md."""

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from ninja import Field, Form, Query, Router, Schema
from ninja.security import HttpBearer

from prakerja.core.errors import Forbidden, NotAuthenticated, PrakerjaError
from prakerja.core.idempotency import idempotent
from prakerja.core.ratelimit import rate_limit
from prakerja.partners import rules, selectors, services
from prakerja.partners.models import Credential, Partner, WebhookMessage, WebhookStatus
from prakerja.partners.services import REALM, WrongCredentials

router = Router(tags=["partner"])


class TokenMissing(NotAuthenticated):
    code = "token_missing"
    message = _("Send an access token (Authorization: Bearer …); get one at /api/v1/partner/token.")
    # RFC 6750 §3.1: a request without credentials gets the challenge alone, no error code.
    www_authenticate = f'Bearer realm="{REALM}"'


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    message = _("The access token lacks the scope this needs: %(scope)s. Ask for a token with it.")

    def __init__(self, scopes: Iterable[str]) -> None:
        scope = " ".join(sorted(scopes))
        super().__init__(scope=scope)
        self.www_authenticate = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'


class InvalidRequest(PrakerjaError):
    code = "invalid_request"
    message = _("The token request is malformed: %(reason)s")


class UnsupportedGrantType(PrakerjaError):
    code = "unsupported_grant_type"
    message = _("Only grant_type=client_credentials is supported.")


def _rate_limit(credential: Credential) -> None:
    rate_limit(key=f"partner-client:{credential.client_id}", limit=settings.PRAKERJA_PARTNER_RATE_PER_MINUTE)


class PartnerAuth(HttpBearer):
    """A partner client's Bearer token: sets request.partner; refuses a token lacking a scope needed."""

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        super().__init__()
        self.scopes = frozenset(scopes)
        unknown = self.scopes - rules.ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown partner API scopes: {sorted(unknown)}")

    def __call__(self, request: HttpRequest) -> Partner:
        # Not ninja's own: its 401 carries no WWW-Authenticate challenge, and in DEBUG it logs the header.
        scheme, _sep, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenMissing()
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Partner:
        access = services.token_resolve(token=token)
        credential = access.credential
        _rate_limit(credential)
        missing = self.scopes - access.scope_set
        if missing:
            raise InsufficientScope(missing)
        request.partner = credential.partner  # type: ignore[attr-defined]
        request.partner_credential = credential  # type: ignore[attr-defined]
        request.partner_scopes = access.scope_set  # type: ignore[attr-defined]
        return credential.partner


def request_partner(request: HttpRequest) -> Partner:
    """The partner PartnerAuth found for this request."""
    partner: Partner = getattr(request, "partner")  # noqa: B009
    return partner


def partner_owner(request: HttpRequest) -> str:
    """The owner of a partner request's idempotency keys, for core.idempotency.idempotent(owner_of=...)."""
    return f"partner:{request_partner(request).pk}"


# --- OAuth2 token endpoint (RFC 6749 §4.4) ----------------------------------------------------------------


class TokenOut(Schema):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorOut(Schema):
    error: str
    error_description: str


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(exc: PrakerjaError) -> JsonResponse:
    """An error as RFC 6749 §5.2 writes it, not problem+json: OAuth2 client libraries read this shape."""
    response = JsonResponse({"error": exc.code, "error_description": exc.detail}, status=exc.status)
    for name, value in {**_NO_STORE, **exc.headers()}.items():
        response[name] = value
    if isinstance(exc, WrongCredentials):
        response["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


def _basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    if not scheme:
        return None
    if scheme.lower() != "basic":
        raise WrongCredentials()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(reason=_("the Basic credentials are not valid base64.")) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidRequest(reason=_("the Basic credentials must be client_id:client_secret.")) from None
    # RFC 6749 §2.3.1: both are form-encoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


@router.post(
    "/token",
    auth=None,
    response={200: TokenOut, 400: OAuthErrorOut, 401: OAuthErrorOut, 429: OAuthErrorOut},
    summary="Get an access token (OAuth2 client credentials)",
)
@sensitive_post_parameters("client_secret")  # kept out of Django's error reports
def token(
    request: HttpRequest,
    grant_type: Form[str | None] = None,
    scope: Form[str | None] = None,
    client_id: Form[str | None] = None,
    client_secret: Form[str | None] = None,
) -> JsonResponse:
    """Exchange a client's id and secret (HTTP Basic, or form fields) for a Bearer token of limited life."""
    try:
        basic = _basic_credentials(request)
        if basic is not None and (client_id or client_secret):
            raise InvalidRequest(reason=_("send the client credentials one way, not both."))
        if not grant_type:
            raise InvalidRequest(reason=_("grant_type is missing."))
        if grant_type != "client_credentials":
            raise UnsupportedGrantType()
        given = basic or (client_id or "", client_secret or "")
        if not all(given):
            raise WrongCredentials()
        credential = services.credential_check(client_id=given[0], secret=given[1])
        _rate_limit(credential)
        access, raw = services.token_issue(credential=credential, scope=scope)
    except PrakerjaError as exc:
        return _oauth_error(exc)
    body: dict[str, Any] = {
        "access_token": raw,
        "token_type": "Bearer",
        "expires_in": int((access.expires_at - access.issued_at).total_seconds()),
        "scope": access.scopes,
    }
    response = JsonResponse(body)
    for name, value in _NO_STORE.items():
        response[name] = value
    return response


# --- webhooks -------------------------------------------------------------------------------------------


class WebhookEndpointIn(Schema):
    url: str = Field(..., max_length=500, description="https:// address that receives the POSTs.")
    rotate_secret: bool = Field(False, description="Issue a new signing secret (the old one stops at once).")


class WebhookEndpointOut(Schema):
    url: str
    secret: str | None = Field(
        None, description="The `whsec_…` signing secret: only when new, shown in this answer alone."
    )


class WebhookDeliveryOut(Schema):
    event_id: str
    event_type: str
    created_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    payload: dict[str, Any]


class WebhookDeliveriesOut(Schema):
    count: int
    page: int
    per_page: int
    items: list[WebhookDeliveryOut]


DELIVERIES_PER_PAGE = 50


def _delivery_out(message: WebhookMessage) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        event_id=message.event_id,
        event_type=message.event_type,
        created_at=message.created_at,
        status=message.status,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at if message.status == WebhookStatus.PENDING else None,
        last_status_code=message.last_status_code,
        last_error=message.last_error,
        delivered_at=message.delivered_at,
        payload=message.payload,
    )


@router.put(
    "/webhooks/endpoint",
    response=WebhookEndpointOut,
    auth=PartnerAuth(scopes=["webhooks:write"]),
    summary="Set the webhook address (a first one, or a rotation, returns the signing secret once)",
)
@idempotent(owner_of=partner_owner, sealed=True)
def webhook_endpoint_put(request: HttpRequest, data: WebhookEndpointIn) -> WebhookEndpointOut:
    """Set where this partner's webhooks go; the secret is in the answer only when it is new."""
    partner = request_partner(request)
    endpoint, secret = services.webhook_endpoint_set(
        partner=partner, url=data.url, actor=partner_owner(request)
    )
    if data.rotate_secret and secret is None:
        endpoint, secret = services.webhook_secret_rotate(partner=partner, actor=partner_owner(request))
    return WebhookEndpointOut(url=endpoint.url, secret=secret)


@router.get(
    "/webhooks/deliveries",
    response=WebhookDeliveriesOut,
    auth=PartnerAuth(scopes=["webhooks:read"]),
    summary="This partner's webhook messages and their delivery, newest first",
)
def webhook_deliveries(
    request: HttpRequest,
    status: Literal["pending", "delivered", "failed"] | None = None,
    page: int = Query(1, ge=1, le=100_000),
) -> WebhookDeliveriesOut:
    """The delivery log: only this partner's own messages, 50 a page."""
    rows = selectors.webhook_messages(request_partner(request), status=status or "")
    start = (page - 1) * DELIVERIES_PER_PAGE
    items = list(rows[start : start + DELIVERIES_PER_PAGE])
    return WebhookDeliveriesOut(
        count=rows.count(),
        page=page,
        per_page=DELIVERIES_PER_PAGE,
        items=[_delivery_out(m) for m in items],
    )


@router.post(
    "/webhooks/deliveries/{event_id}/replay",
    response=WebhookDeliveryOut,
    auth=PartnerAuth(scopes=["webhooks:write"]),
    summary="Send a delivered or failed webhook message again",
)
@idempotent(owner_of=partner_owner)
def webhook_replay(request: HttpRequest, event_id: str) -> WebhookDeliveryOut:
    """Put the message back in the queue from a fresh retry schedule; another partner's is not found."""
    message = services.webhook_replay(
        event_id=event_id, partner=request_partner(request), actor=partner_owner(request)
    )
    return _delivery_out(message)
