"""Participant accounts over the API: sign up, then verify e-mail and phone with the codes sent."""

from django.contrib.auth import login
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import django_auth

from prakerja.accounts import services
from prakerja.accounts.models import Purpose, User

router = Router(tags=["accounts"])


class SignupIn(Schema):
    email: str
    phone: str
    password: str


class AccountOut(Schema):
    id: int
    username: str
    email_verified: bool
    phone_verified: bool


def _account(user: User) -> AccountOut:
    return AccountOut(
        id=user.pk,
        username=user.username,
        email_verified=bool(user.email_verified_at),
        phone_verified=bool(user.phone_verified_at),
    )


@router.post("/signup", response={201: AccountOut}, auth=None)
def signup(request: HttpRequest, payload: SignupIn) -> Status:
    """Create a participant account and log it in; codes go to the e-mail address and the phone."""
    user = services.participant_signup(email=payload.email, phone=payload.phone, password=payload.password)
    login(request, user)
    return Status(201, _account(user))


class VerifyIn(Schema):
    purpose: Purpose
    code: str


@router.post("/verify", response=AccountOut, auth=django_auth)
def verify(request: HttpRequest, payload: VerifyIn) -> AccountOut:
    """Check a one-time code for the e-mail address or the phone."""
    assert isinstance(request.user, User)
    services.otp_verify(user=request.user, purpose=payload.purpose, code=payload.code)
    return _account(request.user)


@router.post("/codes", response={202: None}, auth=django_auth)
def send_code(request: HttpRequest, purpose: Purpose) -> Status:
    """Send a new code (the previous one stops working)."""
    assert isinstance(request.user, User)
    services.otp_send(user=request.user, purpose=purpose)
    return Status(202, None)
