"""Synthetic but internally consistent people, in the applicant import format.

NIKs match birth date, sex and district; households share a KK and a village; names come from
Faker's id_ID lists. Distributions follow the programme: about 56 % rural, 49 % women, 3 % with a
disability, ages 18-64 weighted young. The same seed and reference date give the same people.
"""

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from operator import attrgetter
from typing import Any

from faker.providers.person.id_ID import Provider as IndonesianNames

from prakerja.identity.rules import COLUMNS, kk_digits, nik_digits

EDUCATION = (
    ("none", 2),
    ("sd", 10),
    ("smp", 15),
    ("sma", 50),
    ("diploma", 6),
    ("s1", 15),
    ("s2", 1.8),
    ("s3", 0.2),
)
EMPLOYMENT = (("unemployed", 45), ("laid_off", 20), ("worker", 25), ("micro_entrepreneur", 10))
AGE_BANDS = (((18, 24), 30), ((25, 34), 35), ((35, 44), 20), ((45, 54), 10), ((55, 64), 5))
RURAL_SHARE, FEMALE_SHARE, DISABILITY_SHARE = 0.56, 0.49, 0.03
MOBILE_PREFIXES = (
    "811",
    "812",
    "813",
    "821",
    "822",
    "852",
    "853",
    "814",
    "815",
    "816",
    "855",
    "856",
    "857",
    "858",
    "817",
    "818",
    "819",
    "859",
    "877",
    "878",
    "895",
    "896",
    "897",
    "898",
    "899",
    "881",
    "882",
    "883",
    "887",
    "888",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
# Phone numbers: index * an odd multiplier not divisible by 5, modulo 10^8, is a bijection, so no two
# people share a number while the digits still look scattered.
_PHONE_MULTIPLIER, _PHONE_SPACE = 48_271_113, 100_000_000


_ROW = attrgetter(*COLUMNS)


@dataclass(frozen=True, slots=True)
class Person:
    nik: str
    kk: str
    full_name: str
    birth_date: str
    sex: str
    phone: str
    email: str
    village_code: str
    rural: str
    education: str
    employment_status: str
    disability: str

    def row(self) -> tuple[str, ...]:
        return _ROW(self)


def _cumulative(table: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    """Values and cumulative weights, computed once rather than on every draw."""
    return [value for value, _ in table], list(accumulate(weight for _, weight in table))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _email_part(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isascii() and ch.isalpha())


def generate_people(
    count: int, *, villages: Sequence[tuple[str, bool | None]], seed: int = 0, today: date
) -> Iterator[Person]:
    """`count` people living in `villages` ((10-digit code, rural) pairs), households grouped by KK."""
    rng = random.Random(seed)
    rural = [code for code, is_rural in villages if is_rural]
    urban = [code for code, is_rural in villages if not is_rural]
    if not rural or not urban:
        raise ValueError("need both rural and urban villages")
    names = {
        "L": (IndonesianNames.first_names_male, IndonesianNames.last_names_male),
        "P": (IndonesianNames.first_names_female, IndonesianNames.last_names_female),
    }
    education, employment, bands = (_cumulative(EDUCATION), _cumulative(EMPLOYMENT), _cumulative(AGE_BANDS))
    nik_serials: dict[str, int] = {}
    kk_serials: dict[str, int] = {}
    made = 0
    while made < count:
        is_rural = rng.random() < RURAL_SHARE
        village = rng.choice(rural if is_rural else urban)
        district = village[:6]
        issued = today - timedelta(days=rng.randint(30, 20 * 365))
        kk_key = kk_digits(district, issued, 0)[:12]
        kk_serials[kk_key] = kk_serials.get(kk_key, 0) + 1
        kk = kk_digits(district, issued, kk_serials[kk_key])
        for _ in range(min(rng.choice((1, 1, 2, 2, 3)), count - made)):
            sex = "P" if rng.random() < FEMALE_SHARE else "L"
            low, high = rng.choices(bands[0], cum_weights=bands[1])[0]
            latest, earliest = _years_before(today, low), _years_before(today, high + 1) + timedelta(days=1)
            born = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
            nik_key = nik_digits(district, born, sex, 0)[:12]
            nik_serials[nik_key] = nik_serials.get(nik_key, 0) + 1
            first_names, last_names = names[sex]
            first, last = rng.choice(first_names), rng.choice(last_names)
            phone_digits = (made * _PHONE_MULTIPLIER + seed) % _PHONE_SPACE
            yield Person(
                nik=nik_digits(district, born, sex, nik_serials[nik_key]),
                kk=kk,
                full_name=f"{first} {last}",
                birth_date=born.isoformat(),
                sex=sex,
                phone=f"0{rng.choice(MOBILE_PREFIXES)}{phone_digits:08d}",
                email=f"{_email_part(first)}.{_email_part(last)}.{made}@{rng.choice(EMAIL_DOMAINS)}",
                village_code=village,
                rural="true" if is_rural else "false",
                education=rng.choices(education[0], cum_weights=education[1])[0],
                employment_status=rng.choices(employment[0], cum_weights=employment[1])[0],
                disability="true" if rng.random() < DISABILITY_SHARE else "false",
            )
            made += 1
