"""Identity-number checks over the API; the number travels in the body, never in the URL."""

from django.http import HttpRequest
from ninja import Router, Schema

from prakerja.core.crypto import mask
from prakerja.core.errors import InvalidInput
from prakerja.identity.rules import Check
from prakerja.identity.selectors import kk_check, nik_check

router = Router(tags=["identity"])


class NumberIn(Schema):
    number: str


class ParsedOut(Schema):
    number: str
    province_code: str
    regency_code: str
    district_code: str
    date: str | None
    sex: str | None


def _answer(result: Check) -> ParsedOut:
    if not result.ok or result.parsed is None:
        raise InvalidInput(
            code="invalid_number", problems=[{"code": p.code, "message": p.message} for p in result.problems]
        )
    p = result.parsed
    return ParsedOut(
        number=mask(p.number),
        province_code=p.province_code,
        regency_code=p.regency_code,
        district_code=p.district_code,
        date=p.date.isoformat() if p.date else None,
        sex=p.sex,
    )


@router.post("/nik/check", response=ParsedOut, auth=None)
def check_nik(request: HttpRequest, payload: NumberIn) -> ParsedOut:
    """Parse a NIK: birth date, sex and region, or 422 with every problem."""
    return _answer(nik_check(payload.number))


@router.post("/kk/check", response=ParsedOut, auth=None)
def check_kk(request: HttpRequest, payload: NumberIn) -> ParsedOut:
    """Parse a family-card number: region and issue date, or 422 with every problem."""
    return _answer(kk_check(payload.number))
