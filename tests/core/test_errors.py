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
