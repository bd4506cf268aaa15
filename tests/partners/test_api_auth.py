"""The partner API's OAuth2 token endpoint (through the project's API), Bearer authentication with scopes,
idempotent partner writes and per-client rate limits (on a test-only router)."""

import base64
import json
import types
from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from ninja import NinjaAPI, Router, Schema, Status

from prakerja.accounts.models import User
from prakerja.core.api import install_error_handlers
from prakerja.core.audit import audit_record
from prakerja.core.idempotency import idempotent
from prakerja.core.models import AuditEntry, IdempotencyRecord
from prakerja.partners import services
from prakerja.partners.api import PartnerAuth, partner_owner, request_partner
from prakerja.partners.models import AccessToken, Credential, Partner
from prakerja.partners.rules import SCOPES

from .conftest import apply, approve

router = Router()


class WhoOut(Schema):
    partner: int
    client_id: str
    scopes: list[str]


class PurchaseIn(Schema):
    card: str


@router.get("/whoami", response=WhoOut, auth=PartnerAuth())
def whoami(request: HttpRequest) -> WhoOut:
    credential: Credential = request.partner_credential  # type: ignore[attr-defined]
    return WhoOut(
        partner=request_partner(request).pk,
        client_id=credential.client_id,
        scopes=sorted(request.partner_scopes),  # type: ignore[attr-defined]
    )


@router.post("/purchases", response={201: dict}, auth=PartnerAuth(scopes=["purchases:write"]))
@idempotent(owner_of=partner_owner)
def purchase(request: HttpRequest, data: PurchaseIn) -> Status:
    entry = audit_record(actor="system:test", action="test.purchase", obj=request_partner(request))
    return Status(201, {"id": entry.pk, "card": data.card})


test_api = NinjaAPI(urls_namespace="test_partner_auth")
install_error_handlers(test_api)
test_api.add_router("/", router)
urlpatterns = [path("tp/", test_api.urls), path("", include("prakerja.urls"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

TOKEN_URL = "/api/v1/partner/token"


def integrated(
    kind: str, nib: str, officers: tuple[User, User], owner: int
) -> tuple[Partner, Credential, str]:
    partner = apply(kind, f"Mitra {nib[-3:]}", nib, owner=owner, director=owner + 1)
    approve(partner, *officers)
    today = timezone.localdate()
    services.agreement_record(
        partner=partner,
        number=f"PKS-{nib}",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=365),
        officer=officers[0],
    )
    credential, secret = services.credential_issue(partner=partner, officer=officers[0])
    partner.refresh_from_db()
    return partner, credential, secret


@pytest.fixture
def platform(officers) -> tuple[Partner, Credential, str]:
    return integrated("platform", "1234567890123", officers, owner=11)


@pytest.fixture
def institution(officers) -> tuple[Partner, Credential, str]:
    return integrated("institution", "9876543210987", officers, owner=21)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def ask(data: dict[str, str], **headers: str) -> Any:
    return Client().post(TOKEN_URL, data, headers=headers)


def token_of(credential: Credential, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = ask(data, **basic(credential.client_id, secret))
    assert response.status_code == 200, response.content
    return str(json.loads(response.content)["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def problem(response: Any) -> str:
    assert response["Content-Type"] == "application/problem+json"
    return str(json.loads(response.content)["type"]).removeprefix("urn:prakerja:problem:")


# --- the token endpoint ---------------------------------------------------------------------------------


def test_a_client_gets_a_token_with_http_basic(platform) -> None:
    _, credential, secret = platform
    response = ask({"grant_type": "client_credentials"}, **basic(credential.client_id, secret))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store" and response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == " ".join(SCOPES["platform"])
    assert len(base64.urlsafe_b64decode(body["access_token"] + "=")) == 32  # 256 bits
    stored = AccessToken.objects.get()
    assert stored.credential == credential and body["access_token"] not in stored.digest
    assert not AccessToken.objects.filter(digest=body["access_token"]).exists()
    assert (stored.expires_at - stored.issued_at).total_seconds() == 900


def test_a_client_gets_a_token_with_form_fields_and_fewer_scopes(platform, settings) -> None:
    settings.PRAKERJA_PARTNER_TOKEN_SECONDS = 60
    _, credential, secret = platform
    response = ask(
        {
            "grant_type": "client_credentials",
            "client_id": credential.client_id,
            "client_secret": secret,
            "scope": "purchases:read",
        }
    )
    body = json.loads(response.content)
    assert response.status_code == 200 and body["scope"] == "purchases:read" and body["expires_in"] == 60


def test_an_institution_gets_the_scopes_of_its_kind(institution) -> None:
    _, credential, secret = institution
    token = token_of(credential, secret)
    scopes = json.loads(Client().get("/tp/whoami", headers=bearer(token)).content)["scopes"]
    assert scopes == sorted(SCOPES["institution"])


def test_a_wrong_secret_or_unknown_client_is_invalid_client(platform) -> None:
    _, credential, secret = platform
    for headers in (basic(credential.client_id, secret + "x"), basic("pk_plat_nobody", secret)):
        response = ask({"grant_type": "client_credentials"}, **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="prakerja-partner"'
        assert json.loads(response.content)["error"] == "invalid_client"
        assert secret not in response.content.decode()
    no_client = ask({"grant_type": "client_credentials"})
    assert no_client.status_code == 401 and json.loads(no_client.content)["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_malformed_token_requests_name_the_oauth_error(platform) -> None:
    _, credential, secret = platform
    cases = [
        ({}, basic(credential.client_id, secret), "invalid_request"),
        ({"grant_type": "password"}, basic(credential.client_id, secret), "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": secret},
            basic(credential.client_id, secret),
            "invalid_request",
        ),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic !!!"}, "invalid_request"),
        (
            {"grant_type": "client_credentials", "scope": "redemptions:write"},
            basic(credential.client_id, secret),
            "invalid_scope",
        ),
    ]
    for data, headers, error in cases:
        response = ask(data, **headers)
        body = json.loads(response.content)
        assert (response.status_code, body["error"]) == (400, error), body
        assert body["error_description"]
    assert not AccessToken.objects.exists()


def test_the_token_endpoint_is_in_the_openapi_document() -> None:
    paths = json.loads(Client().get("/api/v1/openapi.json").content)["paths"]
    assert "post" in paths[TOKEN_URL]


# --- Bearer authentication ------------------------------------------------------------------------------


def test_a_token_identifies_its_partner_and_client(platform) -> None:
    partner, credential, secret = platform
    response = Client().get("/tp/whoami", headers=bearer(token_of(credential, secret)))
    assert response.status_code == 200
    assert json.loads(response.content) | {"scopes": []} == {
        "partner": partner.pk,
        "client_id": credential.client_id,
        "scopes": [],
    }


def test_a_missing_or_unknown_token_is_refused_with_a_challenge(platform) -> None:
    missing = Client().get("/tp/whoami")
    assert missing.status_code == 401 and problem(missing) == "token_missing"
    assert missing["WWW-Authenticate"] == 'Bearer realm="prakerja-partner"'
    basic_instead = Client().get("/tp/whoami", headers=basic("a", "b"))
    assert basic_instead.status_code == 401 and problem(basic_instead) == "token_missing"
    unknown = Client().get("/tp/whoami", headers=bearer("not-a-token"))
    assert unknown.status_code == 401 and problem(unknown) == "invalid_token"
    assert 'error="invalid_token"' in unknown["WWW-Authenticate"]


def test_an_expired_token_says_it_expired(platform) -> None:
    _, credential, secret = platform
    token = token_of(credential, secret)
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get("/tp/whoami", headers=bearer(token))
    assert response.status_code == 401 and problem(response) == "token_expired"
    assert "expired" in json.loads(response.content)["detail"]
    assert response["WWW-Authenticate"] == (
        'Bearer realm="prakerja-partner", error="invalid_token", error_description="The access token expired"'
    )


def test_revoking_or_rotating_the_credential_stops_its_tokens_at_once(platform, officers) -> None:
    _, credential, secret = platform
    token = token_of(credential, secret)
    rotated, new_secret = services.credential_rotate(credential=credential, officer=officers[0])
    assert problem(Client().get("/tp/whoami", headers=bearer(token))) == "invalid_token"
    new_token = token_of(rotated, new_secret)
    assert Client().get("/tp/whoami", headers=bearer(new_token)).status_code == 200
    # Even a token the revocation did not mark fails: the credential is checked at every use.
    AccessToken.objects.update(revoked_at=None)
    services.credential_revoke(credential=rotated, officer=officers[0])
    AccessToken.objects.update(revoked_at=None)
    assert problem(Client().get("/tp/whoami", headers=bearer(new_token))) == "invalid_token"


def test_suspending_the_partner_stops_its_tokens_also_after_reinstatement(platform, officers) -> None:
    partner, credential, secret = platform
    token = token_of(credential, secret)
    services.partner_suspend(partner=partner, reason="Under investigation", officer=officers[0])
    assert problem(Client().get("/tp/whoami", headers=bearer(token))) == "invalid_token"
    assert ask({"grant_type": "client_credentials"}, **basic(credential.client_id, secret)).status_code == 401
    services.partner_reinstate(partner=partner, officer=officers[1])
    assert problem(Client().get("/tp/whoami", headers=bearer(token))) == "invalid_token"
    assert Client().get("/tp/whoami", headers=bearer(token_of(credential, secret))).status_code == 200


def test_a_token_without_the_endpoints_scope_is_forbidden(platform) -> None:
    _, credential, secret = platform
    token = token_of(credential, secret, scope="purchases:read")
    headers = bearer(token) | {"Idempotency-Key": "k"}
    response = Client().post("/tp/purchases", {"card": "1"}, content_type="application/json", headers=headers)
    assert response.status_code == 403 and problem(response) == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        'Bearer realm="prakerja-partner", error="insufficient_scope", scope="purchases:write"'
    )
    assert not IdempotencyRecord.objects.exists()


def test_an_endpoint_cannot_ask_for_a_scope_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="unknown partner API scopes"):
        PartnerAuth(scopes=["purchases:delete"])


# --- idempotent partner writes and rate limits ----------------------------------------------------------


def test_partner_writes_are_idempotent_per_partner(platform, officers) -> None:
    partner, credential, secret = platform
    other, other_credential, other_secret = integrated("platform", "5555555555555", officers, owner=31)

    def buy(token: str, card: str = "1") -> Any:
        headers = bearer(token) | {"Idempotency-Key": "order-1"}
        return Client().post(
            "/tp/purchases", {"card": card}, content_type="application/json", headers=headers
        )

    token = token_of(credential, secret)
    first, again = buy(token), buy(token)
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert json.loads(first.content) == json.loads(again.content)
    assert problem(buy(token, card="2")) == "idempotency_key_reused"
    theirs = buy(token_of(other_credential, other_secret))
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert AuditEntry.objects.filter(action="test.purchase").count() == 2
    assert set(IdempotencyRecord.objects.values_list("owner", flat=True)) == {
        f"partner:{partner.pk}",
        f"partner:{other.pk}",
    }


def test_a_client_over_its_rate_is_told_when_to_come_back(platform, settings, monkeypatch) -> None:
    settings.PRAKERJA_PARTNER_RATE_PER_MINUTE = 3
    monkeypatch.setattr("prakerja.core.ratelimit.time", types.SimpleNamespace(time=lambda: 1_800_000_015.0))
    _, credential, secret = platform
    token = token_of(credential, secret)  # the token request counts too
    assert Client().get("/tp/whoami", headers=bearer(token)).status_code == 200
    assert Client().get("/tp/whoami", headers=bearer(token)).status_code == 200
    refused = Client().get("/tp/whoami", headers=bearer(token))
    assert refused.status_code == 429 and problem(refused) == "rate_limited"
    assert refused["Retry-After"] == "45"
    token_refused = ask({"grant_type": "client_credentials"}, **basic(credential.client_id, secret))
    assert token_refused.status_code == 429 and token_refused["Retry-After"] == "45"
    assert json.loads(token_refused.content)["error"] == "rate_limited"
