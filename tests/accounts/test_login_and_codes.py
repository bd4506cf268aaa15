import re
from datetime import timedelta

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from prakerja.accounts.models import OneTimeCode, Purpose, Role
from prakerja.accounts.services import (
    AccountLocked,
    CodeExpired,
    CodeRequestedTooOften,
    WrongCode,
    WrongCredentials,
    login_check,
    otp_send,
    otp_verify,
)
from prakerja.core.models import AuditEntry, OutboxMessage
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _code_sent_to(recipient: str) -> str:
    message = next(m for m in OutboxMessage.objects.order_by("-id") if m.recipient == recipient)
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _a_minute_passes(user) -> None:
    OneTimeCode.objects.filter(user=user).update(created_at=timezone.now() - timedelta(seconds=61))


def test_codes_cannot_be_requested_too_often(make_user, settings) -> None:
    user = make_user(email="sering@example.org")
    otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    with pytest.raises(CodeRequestedTooOften):
        otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    for _ in range(settings.OTP_MAX_PER_HOUR - 1):
        _a_minute_passes(user)
        otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    _a_minute_passes(user)
    with pytest.raises(CodeRequestedTooOften):
        otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    assert OneTimeCode.objects.filter(user=user).count() == settings.OTP_MAX_PER_HOUR


def test_wrong_password_then_lock_after_five_failures(make_user, settings) -> None:
    user = make_user()
    for _ in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises(WrongCredentials):
            login_check(username=user.username, password="wrong-password")
    with pytest.raises(AccountLocked) as locked:
        login_check(username=user.username, password=PASSWORD)
    assert "15" in locked.value.detail
    assert AuditEntry.objects.filter(action="accounts.locked").count() == 1


def test_success_clears_earlier_failures(make_user, settings) -> None:
    user = make_user()
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        with pytest.raises(WrongCredentials):
            login_check(username=user.username, password="nope-nope-nope")
    assert login_check(username=user.username, password=PASSWORD) == user
    with pytest.raises(WrongCredentials):
        login_check(username=user.username, password="nope-nope-nope")
    assert login_check(username=user.username, password=PASSWORD) == user


def test_login_page_shows_the_lock_message(make_user, settings) -> None:
    user = make_user()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        response = client.post("/akun/masuk/", {"username": user.username, "password": "bad-password-x"})
        assert b"username or password is wrong" in response.content
    response = client.post("/akun/masuk/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert b"locked for 15 minutes" in response.content
    assert "_auth_user_id" not in client.session


def test_participant_logs_in_and_lands_on_their_home(make_user) -> None:
    user = make_user()
    client = Client()
    response = client.post("/akun/masuk/", {"username": user.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert int(client.session["_auth_user_id"]) == user.pk


def test_email_verification_by_code(make_user) -> None:
    user = make_user(email="siti@example.org")
    otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    code = _code_sent_to("siti@example.org")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(WrongCode) as error:
        otp_verify(user=user, purpose=Purpose.VERIFY_EMAIL, code=wrong)
    assert "4" in error.value.detail
    otp_verify(user=user, purpose=Purpose.VERIFY_EMAIL, code=code)
    user.refresh_from_db()
    assert user.email_verified_at is not None
    with pytest.raises(CodeExpired):
        otp_verify(user=user, purpose=Purpose.VERIFY_EMAIL, code=code)


def test_code_is_dead_after_five_wrong_tries_and_after_expiry(make_user) -> None:
    user = make_user(phone="081299990000")
    otp_send(user=user, purpose=Purpose.VERIFY_PHONE)
    code = _code_sent_to("081299990000")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(WrongCode):
            otp_verify(user=user, purpose=Purpose.VERIFY_PHONE, code=wrong)
    with pytest.raises(CodeExpired):
        otp_verify(user=user, purpose=Purpose.VERIFY_PHONE, code=wrong)
    with pytest.raises(CodeExpired):
        otp_verify(user=user, purpose=Purpose.VERIFY_PHONE, code=code)

    _a_minute_passes(user)
    otp_send(user=user, purpose=Purpose.VERIFY_PHONE)
    fresh = _code_sent_to("081299990000")
    OneTimeCode.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CodeExpired):
        otp_verify(user=user, purpose=Purpose.VERIFY_PHONE, code=fresh)
    user.refresh_from_db()
    assert user.phone_verified_at is None


def test_a_new_code_replaces_the_old_one(make_user) -> None:
    user = make_user(email="budi@example.org")
    otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    old = _code_sent_to("budi@example.org")
    _a_minute_passes(user)
    otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
    new = _code_sent_to("budi@example.org")
    if old != new:
        with pytest.raises(WrongCode):
            otp_verify(user=user, purpose=Purpose.VERIFY_EMAIL, code=old)
    otp_verify(user=user, purpose=Purpose.VERIFY_EMAIL, code=new)


def test_verification_page_flow(make_user) -> None:
    user = make_user(email="dewi@example.org")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    client.post("/akun/verifikasi/", {"purpose": "verify_email", "send": "1"})
    response = client.post("/akun/verifikasi/", {"purpose": "verify_email", "check": "1", "code": "12345x"})
    assert b"digits only" in response.content
    response = client.post(
        "/akun/verifikasi/",
        {"purpose": "verify_email", "check": "1", "code": _code_sent_to("dewi@example.org")},
        follow=True,
    )
    assert b"Verified" in response.content
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_pmo_staff_must_pass_the_second_factor(make_user) -> None:
    officer = make_user(Role.SELECTION_OFFICER)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/akun/masuk/", {"username": officer.username, "password": PASSWORD})
    assert client.get("/pmo/")["Location"] == "/akun/2fa/"
    page = client.get("/akun/2fa/")
    officer.refresh_from_db()
    secret = officer.totp_secret
    assert secret and secret.encode() in page.content
    response = client.post(
        "/akun/2fa/", {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"}
    )
    assert b"authenticator code is wrong" in response.content
    response = client.post("/akun/2fa/", {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == "/pmo/"
    assert client.get("/pmo/").status_code == 200
    officer.refresh_from_db()
    assert officer.totp_confirmed_at is not None
    # Enrolled now: the next log-in asks for a code and no longer shows the key.
    client.post("/akun/keluar/")
    client.post("/akun/masuk/", {"username": officer.username, "password": PASSWORD})
    assert secret.encode() not in client.get("/akun/2fa/").content


def test_password_reset_mail_goes_through_the_outbox(make_user) -> None:
    user = make_user(email="rina@example.org")
    client = Client()
    response = client.post("/akun/lupa-sandi/", {"email": "rina@example.org"})
    assert response.status_code == 302
    message = next(m for m in OutboxMessage.objects.all() if m.recipient == "rina@example.org")
    link = re.search(r"(/akun/sandi-baru/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-pass-77", "new_password2": "a-brand-new-pass-77"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-brand-new-pass-77")
