"""Pure rules of the NIK (national identity number) and KK (family card number).

NIK: PP RR DD ddmmyy SSSS: province, regency/city, district, birth date (day + 40 for women),
serial. KK: the same region digits, the card's issue date, serial.
"""

import re
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_LONG_NUMBER = re.compile(r"\d{16,}")  # as long as a NIK or KK, or longer

FEMALE_DAY_OFFSET = 40
# The columns of the applicant import format, which the generator writes and the registry reads.
COLUMNS = (
    "nik",
    "kk",
    "full_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "village_code",
    "rural",
    "education",
    "employment_status",
    "disability",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a number: a stable code and a translatable message."""

    code: str
    template: Promise | str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The text, with any run of 16 or more digits in its values masked: a NIK typed into another column
        is echoed back by that column's message, and a NIK never appears in an error text."""
        if not self.params:
            return str(self.template)
        return str(self.template) % {k: _masked(v) for k, v in self.params.items()}


def _masked(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return _LONG_NUMBER.sub(lambda m: "*" * (len(m[0]) - 4) + m[0][-4:], value)


@dataclass(frozen=True)
class ParsedNumber:
    number: str
    province_code: str
    regency_code: str
    district_code: str
    date: date | None
    sex: str | None  # "L" or "P"; None for a KK
    serial: str


@dataclass(frozen=True)
class Check:
    parsed: ParsedNumber | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _shape(value: str, label: str) -> Problem | None:
    if len(value) != 16:
        return Problem(
            "not_16_digits",
            _("%(label)s must be exactly 16 digits (0-9); this one has %(length)d characters."),
            {"label": label, "length": len(value)},
        )
    if not (value.isascii() and value.isdigit()):
        return Problem(
            "not_16_digits",
            _("%(label)s must be exactly 16 digits (0-9), with no other character."),
            {"label": label},
        )
    return None


def _region_problems(value: str, known_regions: Container[str], label: str) -> list[Problem]:
    province, regency, district = value[:2], value[:4], value[:6]
    if province not in known_regions:
        return [
            Problem(
                "unknown_province",
                _("The province code %(code)s in the %(label)s does not exist."),
                {"code": province, "label": label},
            )
        ]
    if regency not in known_regions:
        return [
            Problem(
                "unknown_regency",
                _("The regency/city code %(code)s in the %(label)s does not exist."),
                {"code": regency, "label": label},
            )
        ]
    if district not in known_regions:
        return [
            Problem(
                "unknown_district",
                _("The district code %(code)s in the %(label)s does not exist."),
                {"code": district, "label": label},
            )
        ]
    return []


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year(two_digits: int, month: int, day: int, today: date) -> int:
    """A two-digit year is 20xx unless that date would be after today, then 19xx."""
    year = 2000 + two_digits
    return year if (year, month, day) <= (today.year, today.month, today.day) else year - 100


def _serial_problem(value: str, label: str) -> Problem | None:
    if value[12:] == "0000":
        return Problem(
            "zero_serial", _("The last four digits of the %(label)s cannot be 0000."), {"label": label}
        )
    return None


def check_nik(value: str, *, known_regions: Container[str], today: date) -> Check:
    """Every problem with a NIK, and its fields when it is well formed."""
    value = value.strip()
    shape = _shape(value, "NIK")
    if shape:
        return Check(None, (shape,))
    problems = _region_problems(value, known_regions, "NIK")
    day, month, yy = int(value[6:8]), int(value[8:10]), int(value[10:12])
    sex = "P" if day > FEMALE_DAY_OFFSET else "L"
    real_day = day - FEMALE_DAY_OFFSET if sex == "P" else day
    born = _real_date(_year(yy, month, real_day, today), month, real_day) if real_day > 0 else None
    if born is None:
        problems.append(
            Problem(
                "impossible_birth_date",
                _(
                    "Digits 7-12 of the NIK (%(digits)s) are not a real birth date: the day is 01-31 for men "
                    "and 41-71 for women, then month and year."
                ),
                {"digits": value[6:12]},
            )
        )
    serial = _serial_problem(value, "NIK")
    if serial:
        problems.append(serial)
    parsed = ParsedNumber(value, value[:2], value[:4], value[:6], born, sex, value[12:])
    return Check(parsed, tuple(problems))


def check_kk(value: str, *, known_regions: Container[str], today: date) -> Check:
    """Every problem with a family-card number, and its fields when it is well formed."""
    value = value.strip()
    shape = _shape(value, "KK")
    if shape:
        return Check(None, (shape,))
    problems = _region_problems(value, known_regions, "KK")
    issued = kk_issue_date(value, today=today)
    if issued is None:
        problems.append(
            Problem(
                "impossible_issue_date",
                _("Digits 7-12 of the KK (%(digits)s) are not a real issue date (day, month, year)."),
                {"digits": value[6:12]},
            )
        )
    serial = _serial_problem(value, "KK")
    if serial:
        problems.append(serial)
    parsed = ParsedNumber(value, value[:2], value[:4], value[:6], issued, None, value[12:])
    return Check(parsed, tuple(problems))


def kk_issue_date(value: str, *, today: date) -> date | None:
    """The issue date in a KK of 16 digits; None when digits 7-12 are not a real date."""
    day, month = int(value[6:8]), int(value[8:10])
    return _real_date(_year(int(value[10:12]), month, day, today), month, day)


def nik_carries(value: str, *, born: date, sex: str, today: date) -> bool:
    """Whether a NIK of 16 digits says this birth date and sex (L or P), as `check_nik` reads them."""
    day, yy = born.day + (FEMALE_DAY_OFFSET if sex == "P" else 0), born.year % 100
    says_born = int(value[6:12]) == day * 10000 + born.month * 100 + yy
    return says_born and _year(yy, born.month, born.day, today) == born.year


def nik_digits(district_code: str, born: date, sex: str, serial: int) -> str:
    """Compose a NIK from its parts (the inverse of check_nik)."""
    day = born.day + (FEMALE_DAY_OFFSET if sex == "P" else 0)
    return f"{district_code}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def kk_digits(district_code: str, issued: date, serial: int) -> str:
    return f"{district_code}{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}{serial:04d}"
