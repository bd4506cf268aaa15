"""Registration over the API, for the logged-in participant: the same service as the pages."""

from datetime import date

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import django_auth

from prakerja.accounts.models import User
from prakerja.core.crypto import mask
from prakerja.core.errors import NotFound
from prakerja.registry import services
from prakerja.registry.models import Applicant

router = Router(tags=["registry"])


class RegistrationIn(Schema):
    nik: str
    kk: str
    full_name: str
    birth_date: date
    sex: str
    village_code: str
    rural: bool
    education: str
    employment_status: str
    disability: bool
    consents: list[str]


class ReasonOut(Schema):
    code: str
    message: str


class RegistrationOut(Schema):
    nik: str
    full_name: str
    village_code: str
    registered_at: str
    eligible: bool
    reasons: list[ReasonOut]


def _out(applicant: Applicant) -> RegistrationOut:
    return RegistrationOut(
        nik=mask(applicant.nik),
        full_name=applicant.full_name,
        village_code=applicant.village_id,
        registered_at=applicant.registered_at.isoformat(),
        eligible=applicant.eligible,
        reasons=[ReasonOut(code=r.code, message=r.message) for r in applicant.reasons],
    )


@router.post("/registrations", response={201: RegistrationOut}, auth=django_auth)
def register(request: HttpRequest, payload: RegistrationIn) -> Status:
    """Register the logged-in participant; 409 when the NIK or the account is already registered,
    422 with every problem (which field disagrees with the NIK) otherwise."""
    assert isinstance(request.user, User)
    data = payload.dict(exclude={"consents"})
    data.update(
        birth_date=payload.birth_date.isoformat(),
        rural=str(payload.rural).lower(),
        disability=str(payload.disability).lower(),
    )
    applicant = services.applicant_register(
        user=request.user, data=data, consents=payload.consents, source="api"
    )
    return Status(201, _out(applicant))


@router.get("/registrations/me", response=RegistrationOut, auth=django_auth)
def mine(request: HttpRequest) -> RegistrationOut:
    """The logged-in participant's own registration and eligibility, with every reason."""
    assert isinstance(request.user, User)
    applicant = Applicant.objects.filter(user=request.user).select_related("ruleset").first()
    if applicant is None:
        raise NotFound(code="not_registered")
    return _out(applicant)
