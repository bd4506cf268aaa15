import json

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
