import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from prakerja.accounts.models import User
from prakerja.demo.payouts import ALUMNUS
from prakerja.demo.services import DEMO_LISTS, DEMO_USERS
from prakerja.enrolment.models import Certificate, Purchase
from prakerja.ledger.selectors import ledger_check
from prakerja.payments.selectors import benefits_of, benefits_report
from prakerja.registry.models import Appeal, Applicant, ExclusionList
from prakerja.waves.models import Card


def _start_in_production(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRAKERJA_")}
    environment.update({"PRAKERJA_ENV": "production", **env})
    return subprocess.run(
        [sys.executable, "-c", "import prakerja.settings"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_demo_secrets_and_sqlite() -> None:
    result = _start_in_production()
    assert result.returncode != 0
    assert "PRAKERJA_SECRET_KEY is the demo key" in result.stderr
    assert "SQLite" in result.stderr


def test_production_starts_with_real_secrets_on_postgres() -> None:
    key = "cmVhbC1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy1sb25n"
    result = _start_in_production(
        PRAKERJA_SECRET_KEY="a-long-real-secret-0123456789abcdef",
        PRAKERJA_PII_KEY=key,
        PRAKERJA_BLIND_INDEX_KEY="b3RoZXIta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMtbG9uZw==",
        PRAKERJA_CERTIFICATE_KEY="Y2VydGlmaWNhdGUta2V5LW9mLTMyLWJ5dGVzLWxvbmchIQ==",
        PRAKERJA_PAYMENT_PROVIDER_SECRET="a-real-provider-callback-secret",
        PRAKERJA_DATABASE_URL="postgres://prakerja@db.internal/prakerja",
    )
    assert result.returncode == 0, result.stderr


def _get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET."""
    request = urllib.request.Request(url, headers={"Accept-Language": "id"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.status, answer.headers.get_content_type(), answer.read()


def test_granian_serves_pages_api_and_static_files_as_the_readme_says(tmp_path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRAKERJA_")}
    environment.update(
        PRAKERJA_WORK_DIR=str(tmp_path),
        PRAKERJA_DEBUG="false",  # Django itself serves no static file: granian must
        PRAKERJA_DATABASE_URL=f"sqlite:///{tmp_path / 'serving.sqlite3'}",
    )
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "prakerja", "collectstatic", "--no-input", "-v", "0"], env=environment, check=True
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            bin_dir / "granian",
            *("--interface", "wsgi", "--workers", "1", "--blocking-threads", "4", "--port", str(port)),
            *("--static-path-route", "/static", "--static-path-mount", tmp_path / "staticfiles"),
            "prakerja.wsgi:application",
        ],
        env=environment,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                status, _kind, body = _get(f"{base}/api/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("granian did not answer within 10 s")
        assert status == 200 and b'"ok"' in body
        assert _get(f"{base}/static/vendor/pico.min.css")[:2] == (200, "text/css")
        status, kind, body = _get(f"{base}/akun/masuk/")
        assert (status, kind) == (200, "text/html") and "Masuk" in body.decode()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.django_db
def test_demo_seeds_every_role_and_can_run_twice(capsys, settings, tmp_path) -> None:
    settings.WORK_DIR = tmp_path  # where the demo keeps wave 1's seed
    call_command("demo", "--no-serve", "--people", "400")
    call_command("demo", "--no-serve", "--people", "400")
    out = capsys.readouterr().out
    assert "83,762" in out
    assert Applicant.objects.count() == 401
    # Refused by the agencies' lists, not counting wave 1's card holders (now former recipients).
    assert 0 < Applicant.objects.filter(eligible=False, card__isnull=True).count() < 401 * 0.15
    assert Card.objects.count() > 0 and (tmp_path / "demo-wave-1-seed.txt").exists()
    assert "draw verifies" in out
    assert ExclusionList.objects.exclude(source__startswith="prakerja").count() == len(DEMO_LISTS)
    assert Applicant.objects.filter(user__username="peserta").exists()
    assert Appeal.objects.count() == 5
    assert set(User.objects.values_list("username", flat=True)) >= {u for u, _, _ in DEMO_USERS}
    assert User.objects.filter(username__in=[u for u, _, _ in DEMO_USERS]).count() == len(DEMO_USERS)
    assert {u.role for u in User.objects.all()} >= {r for _, r, _ in DEMO_USERS}
    # The reference partner sold to 20 card holders on the first run only, all through to a certificate;
    # one of them, the alumnus, spent the rest of the balance on a second training.
    assert Purchase.objects.count() == Certificate.objects.count() == 21
    # The alumnus completed, rated, filled three surveys: the whole 2020 benefit, paid exactly once.
    alumnus = benefits_of(Applicant.objects.get(user__username=ALUMNUS))
    assert (alumnus.training_spent, alumnus.incentives_paid, alumnus.surveys_paid) == (
        1_000_000,
        2_400_000,
        150_000,
    )
    assert ledger_check() == []
    assert benefits_report()["semi-bansos-2020"]["totals"]["3550000"] >= 1


@pytest.mark.django_db
def test_health_and_openapi() -> None:
    client = Client()
    assert client.get("/api/v1/health").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/regions/provinces" in spec["paths"]
    assert client.get("/api/v1/docs").status_code == 200
