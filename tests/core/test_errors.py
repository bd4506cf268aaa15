import json
from zoneinfo import ZoneInfo

import pytest
from django.test import Client


@pytest.mark.django_db
def test_api_errors_are_problem_json_in_the_requested_language() -> None:
    response = Client().get("/api/v1/regions/99/children", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == 404
    assert body["type"] == "urn:prakerja:problem:unknown_region"
    assert body["detail"] == "What you asked for does not exist."
    indonesian = json.loads(Client().get("/api/v1/regions/99/children", HTTP_ACCEPT_LANGUAGE="id").content)
    assert indonesian["detail"] != body["detail"]


@pytest.mark.django_db
def test_page_errors_are_readable_pages_not_traces(make_user) -> None:
    client = Client()
    client.force_login(make_user(role="participant"))
    response = client.get("/pmo/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert b"You are not allowed to do this." in response.content
    assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_log_in() -> None:
    response = Client().get("/pmo/")
    assert response.status_code == 302
    assert response["Location"].startswith("/akun/masuk/?next=/pmo/")


@pytest.mark.django_db
def test_pmo_home_lists_the_latest_audit_entries_in_local_time(make_user) -> None:
    from prakerja.accounts.middleware import SESSION_KEY
    from prakerja.core.audit import audit_record

    entry = audit_record(actor="system:test", action="test.shown", object_type="x", object_id="7")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(role="auditor"))
    session = client.session
    session[SESSION_KEY] = True
    session.save()
    page = client.get("/pmo/").content.decode()
    assert "test.shown" in page
    assert f"{entry.at.astimezone(ZoneInfo('Asia/Jakarta')):%d-%m-%Y %H:%M} WIB" in page


@pytest.mark.django_db
def test_pmo_home_links_only_to_pages_the_role_may_open(staff_client) -> None:
    finance = staff_client("finance_officer").get("/pmo/").content.decode()
    assert "/pmo/pendaftar/" not in finance and "/pmo/banding/" not in finance
    complaints = staff_client("complaints_officer").get("/pmo/").content.decode()
    assert "/pmo/pendaftar/" in complaints and "/pmo/banding/" in complaints
    assert "/pmo/daftar-pengecualian/" not in complaints


@pytest.mark.django_db
def test_a_database_that_cannot_be_reached_is_a_503_to_retry_not_a_500(monkeypatch, make_user) -> None:
    from django.db import OperationalError, connections

    client = Client(raise_request_exception=False)
    client.force_login(make_user(role="participant"))  # a page that reads the session and the user

    def refuse() -> None:  # as Django raises it when connecting fails
        raise OperationalError("connection failed: FATAL: sorry, too many clients already")

    monkeypatch.setattr(connections["default"], "ensure_connection", refuse)
    api = client.get("/api/v1/health", HTTP_ACCEPT_LANGUAGE="en")
    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert api["Content-Type"] == "application/problem+json"
    assert json.loads(api.content)["type"] == "urn:prakerja:problem:unavailable"
    page = client.get("/pendaftaran/", HTTP_ACCEPT_LANGUAGE="id")
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert "coba lagi" in page.content.decode().lower() and b"Traceback" not in page.content
    monkeypatch.undo()
    assert client.get("/api/v1/health").status_code == 200  # and answers again once it can


@pytest.mark.django_db
def test_other_unexpected_errors_stay_500(monkeypatch) -> None:
    from prakerja import api as endpoints

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(endpoints.connection, "cursor", broken)
    response = Client(raise_request_exception=False).get("/api/v1/health")
    assert response.status_code == 500 and "Retry-After" not in response
