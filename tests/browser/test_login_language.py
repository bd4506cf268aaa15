"""A programme-office administrator logs in with the second factor, in Indonesian, and switches language."""

from typing import Any

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from prakerja.accounts.models import Role, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/pmo.png"
WRONG_PASSWORD_ID = (
    "Nama pengguna atau kata sandi salah. Periksa kembali lalu coba lagi, atau atur ulang kata sandi Anda."
)


@pytest.fixture
def pmo_admin(make_user: Any, transactional_db: None) -> User:
    """A PMO administrator whose authenticator app is already enrolled."""
    user: User = make_user(Role.PMO_ADMIN)
    user.totp_secret = pyotp.random_base32()
    user.totp_confirmed_at = timezone.now()
    user.save()
    return user


def _log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/akun/masuk/")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.locator("main h1")).to_have_text("Masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.locator("main").get_by_role("button", name="Masuk").click()


def _switch_language(page: Page, code: str) -> None:
    with page.expect_navigation():
        page.locator("#language-switch select").select_option(code)


def test_pmo_admin_logs_in_with_totp_and_switches_language(
    page: Page, live_server: Any, transactional_db: None, pmo_admin: User
) -> None:
    base = live_server.url
    _log_in(page, base, pmo_admin.username, PASSWORD)

    expect(page).to_have_url(f"{base}/akun/2fa/")
    expect(page.locator("main h1")).to_have_text("Verifikasi dua langkah")
    page.get_by_label("Kode").fill(pyotp.TOTP(pmo_admin.totp_secret).now())
    page.get_by_role("button", name="Lanjutkan").click()

    expect(page).to_have_url(f"{base}/pmo/")
    heading = page.locator("main h1")
    expect(heading).to_have_text("Manajemen Pelaksana")
    expect(page).to_have_title("Manajemen Pelaksana · Prakerja")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_test_id("whoami")).to_contain_text("Administrator Manajemen Pelaksana (PMO)")
    expect(page.locator("#language-switch select")).to_have_value("id")
    page.screenshot(path=SCREENSHOT, full_page=True)

    _switch_language(page, "en")
    expect(page).to_have_url(f"{base}/pmo/")
    expect(heading).to_have_text("Programme office")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("whoami")).to_contain_text("PMO administrator")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("#language-switch select")).to_have_value("en")

    _switch_language(page, "id")
    expect(page).to_have_url(f"{base}/pmo/")
    expect(heading).to_have_text("Manajemen Pelaksana")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_role("button", name="Keluar")).to_be_visible()


def test_wrong_password_shows_the_indonesian_message(
    page: Page, live_server: Any, transactional_db: None, pmo_admin: User
) -> None:
    base = live_server.url
    _log_in(page, base, pmo_admin.username, "not-the-password-42")

    expect(page).to_have_url(f"{base}/akun/masuk/")
    expect(page.get_by_role("alert")).to_have_text(WRONG_PASSWORD_ID)
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_label("Nama pengguna")).to_have_value(pmo_admin.username)
    expect(page.get_by_label("Kata sandi")).to_have_value("")
