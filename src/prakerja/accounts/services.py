"""Account actions: log-in with throttling, one-time codes, the staff second factor, demo users."""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prakerja.accounts.models import LoginFailure, OneTimeCode, Purpose, Role, User
from prakerja.core.audit import audit_record
from prakerja.core.crypto import blind_index
from prakerja.core.errors import Conflict, InvalidInput, Locked, PrakerjaError, TooManyRequests
from prakerja.core.models import Channel
from prakerja.core.notifications import notify

TOTP_ISSUER = "Prakerja"


class WrongCredentials(PrakerjaError):
    status = 401
    code = "wrong_credentials"
    message = _("The username or password is wrong. Check them and try again, or reset your password.")


class AccountLocked(Locked):
    code = "account_locked"
    message = _(
        "This account is locked for %(minutes)d minutes after too many failed log-ins. "
        "Wait and try again, or reset your password."
    )


class WrongCode(PrakerjaError):
    status = 400
    code = "wrong_code"
    message = _("The code is wrong. %(left)d attempts left; check the latest message we sent you.")


class CodeExpired(PrakerjaError):
    status = 400
    code = "code_expired"
    message = _("This code has expired or was already used. Ask for a new code.")


class CodeRequestedTooOften(TooManyRequests):
    code = "code_requested_too_often"
    message = _(
        "A code was sent a moment ago. Wait a minute before asking for a new one (at most 5 an hour)."
    )


class NoContact(InvalidInput):
    code = "no_contact"
    message = _("There is no address to send the code to. Add it to your account first.")


def _username_index(username: str) -> str:
    return blind_index(username.strip().lower(), purpose="login")


def _lock_window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCK_MINUTES)


def login_check(*, username: str, password: str, request: Any = None) -> User:
    """The user for these credentials; throttled: too many failures lock the username for a while."""
    index = _username_index(username)
    since = timezone.now() - _lock_window()
    if (
        LoginFailure.objects.filter(username_index=index, at__gte=since).count()
        >= settings.LOGIN_MAX_FAILURES
    ):
        raise AccountLocked(minutes=settings.LOGIN_LOCK_MINUTES)
    user = authenticate(request, username=username, password=password)
    if user is None:
        with transaction.atomic():
            LoginFailure.objects.create(username_index=index)
            failures = LoginFailure.objects.filter(username_index=index, at__gte=since).count()
            if failures == settings.LOGIN_MAX_FAILURES:
                audit_record(
                    actor="system:login",
                    action="accounts.locked",
                    object_type="accounts.user",
                    object_id=index[:16],
                    after={"failures": failures},
                )
        raise WrongCredentials()
    LoginFailure.objects.filter(username_index=index).delete()
    assert isinstance(user, User)
    return user


def _code_digest(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()


_CHANNELS = {
    Purpose.VERIFY_EMAIL: Channel.EMAIL,
    Purpose.VERIFY_PHONE: Channel.SMS,
    Purpose.PAYOUT_ACCOUNT: Channel.SMS,
}
_VERIFIES = {Purpose.VERIFY_EMAIL: "email_verified_at", Purpose.VERIFY_PHONE: "phone_verified_at"}


def otp_send(*, user: User, purpose: str) -> OneTimeCode:
    """Replace any open code for this purpose with a new 6-digit one and send it."""
    channel = _CHANNELS[Purpose(purpose)]
    recipient = user.email if channel == Channel.EMAIL else user.phone
    if not recipient:
        raise NoContact()
    now = timezone.now()
    recent = OneTimeCode.objects.filter(user=user, purpose=purpose, created_at__gte=now - timedelta(hours=1))
    if (
        recent.count() >= settings.OTP_MAX_PER_HOUR
        or recent.filter(created_at__gte=now - timedelta(seconds=settings.OTP_RESEND_SECONDS)).exists()
    ):
        raise CodeRequestedTooOften()
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(
            expires_at=timezone.now()
        )
        otp = OneTimeCode.objects.create(
            user=user,
            purpose=purpose,
            code_digest=_code_digest(code),
            expires_at=timezone.now() + timedelta(minutes=settings.OTP_VALID_MINUTES),
        )
        body = _("Your Prakerja code is %(code)s. It is valid for %(minutes)d minutes. Never share it.") % {
            "code": code,
            "minutes": settings.OTP_VALID_MINUTES,
        }
        notify(channel=channel, recipient=recipient, subject=str(_("Prakerja verification code")), body=body)
    return otp


def otp_verify(*, user: User, purpose: str, code: str) -> None:
    """Mark the contact verified when the code is right; count a wrong try against the code."""
    otp = (
        OneTimeCode.objects.filter(
            user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at")
        .first()
    )
    if otp is None or otp.attempts >= settings.OTP_MAX_ATTEMPTS:
        raise CodeExpired()
    if not hmac.compare_digest(otp.code_digest, _code_digest(code.strip())):
        otp.attempts += 1
        otp.save(update_fields=["attempts"])
        left = settings.OTP_MAX_ATTEMPTS - otp.attempts
        if left <= 0:
            raise CodeExpired()
        raise WrongCode(left=left)
    with transaction.atomic():
        now = timezone.now()
        otp.used_at = now
        otp.save(update_fields=["used_at"])
        field = _VERIFIES.get(Purpose(purpose))
        if field is None:
            return  # a code confirming another action: the caller records that action
        setattr(user, field, now)
        user.save(update_fields=[field])
        audit_record(actor=user, action=f"accounts.{purpose}", obj=user, after={field: now.isoformat()})


def totp_begin(*, user: User) -> str:
    """A fresh, not yet confirmed TOTP secret for the user; returns its provisioning URI."""
    user.totp_secret = pyotp.random_base32()
    user.totp_confirmed_at = None
    user.save(update_fields=["totp_secret", "totp_confirmed_at"])
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.get_username(), issuer_name=TOTP_ISSUER)


class WrongTotp(PrakerjaError):
    status = 400
    code = "wrong_totp"
    message = _("The authenticator code is wrong or too old. Enter the 6 digits your app shows now.")


def totp_check(*, user: User, code: str) -> None:
    """Accept the current code (one step of clock drift allowed); the first success confirms enrolment."""
    if not user.totp_secret or not pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1):
        raise WrongTotp()
    if user.totp_confirmed_at is None:
        with transaction.atomic():
            user.totp_confirmed_at = timezone.now()
            user.save(update_fields=["totp_confirmed_at"])
            audit_record(actor=user, action="accounts.totp_enrolled", obj=user)


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    phone: str = "",
    first_name: str = "",
    actor: Any = "system",
) -> User:
    """Create a user of a role; refuse an unknown role."""
    if role not in Role.values:
        raise InvalidInput(code="unknown_role")
    with transaction.atomic():
        user = User(username=username, role=role, email=email, first_name=first_name)
        user.set_password(password)
        user.phone = phone
        user.phone_index = blind_index(phone, purpose="phone") if phone else None
        user.save()
        audit_record(actor=actor, action="accounts.user_created", obj=user, after={"role": role})
    return user


class ContactTaken(Conflict):
    code = "contact_taken"
    message = _(
        "An account already uses this e-mail address or phone number. Log in, or reset your password."
    )


def normalise_phone(phone: str) -> str:
    """'+62 812-3456-789' -> '08123456789'; anything else than digits after that is left for validation."""
    digits = "".join(ch for ch in phone.strip() if ch not in " -.()")
    return "0" + digits[3:] if digits.startswith("+62") else digits


def participant_signup(*, email: str, phone: str, password: str) -> User:
    """A participant account; codes to verify the e-mail address and the phone are sent at once."""
    email, phone = email.strip().lower(), normalise_phone(phone)
    problems = []
    try:
        validate_email(email)
    except ValidationError:
        problems.append(
            {"field": "email", "code": "invalid", "message": str(_("The e-mail address is not valid."))}
        )
    if not (phone.isascii() and phone.isdigit() and phone.startswith("08") and 10 <= len(phone) <= 14):
        problems.append(
            {
                "field": "phone",
                "code": "invalid",
                "message": str(_("Enter a mobile number starting with 08 (10-14 digits).")),
            }
        )
    try:
        validate_password(password, User(username=email, email=email))
    except ValidationError as exc:
        problems += [{"field": "password", "code": "weak", "message": str(m)} for m in exc.messages]
    if problems:
        raise InvalidInput(problems=problems)
    if (
        User.objects.filter(email__iexact=email).exists()
        or User.objects.filter(phone_index=blind_index(phone, purpose="phone")).exists()
    ):
        raise ContactTaken()
    with transaction.atomic():
        user = user_create(
            username=email,
            password=password,
            role=Role.PARTICIPANT,
            email=email,
            phone=phone,
            actor="system:signup",
        )
        otp_send(user=user, purpose=Purpose.VERIFY_EMAIL)
        otp_send(user=user, purpose=Purpose.VERIFY_PHONE)
    return user
