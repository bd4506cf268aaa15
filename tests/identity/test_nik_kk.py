import csv
import json
from collections import Counter
from datetime import date

import pytest
from django.core.management import call_command
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from prakerja.identity.generator import COLUMNS, Person, generate_people
from prakerja.identity.rules import check_kk, check_nik
from prakerja.regions.models import Level, Region
from prakerja.regions.selectors import names_above_villages

TODAY = date(2026, 11, 24)
# Every test here reads the regions, which a transactional test elsewhere may flush: run with the DB tests.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def villages(django_db_setup, django_db_blocker) -> list[tuple[str, bool]]:
    with django_db_blocker.unblock():
        return list(Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural"))


@pytest.fixture(scope="module")
def known(django_db_setup, django_db_blocker) -> dict[str, str]:
    with django_db_blocker.unblock():
        return dict(names_above_villages())


def _people(villages, seed: int, n: int, today: date = TODAY) -> list[Person]:
    return list(generate_people(n, villages=villages, seed=seed, today=today))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), today=st.dates(date(2015, 1, 1), date(2035, 12, 31)))
def test_every_generated_person_validates(villages, known, seed: int, today: date) -> None:
    for person in _people(villages, seed, 15, today):
        nik = check_nik(person.nik, known_regions=known, today=today)
        assert nik.ok, [p.code for p in nik.problems]
        assert nik.parsed.date.isoformat() == person.birth_date
        assert nik.parsed.sex == person.sex
        assert nik.parsed.district_code == person.village_code[:6]
        assert check_kk(person.kk, known_regions=known, today=today).ok
        assert person.kk[:6] == person.village_code[:6]
        born = date.fromisoformat(person.birth_date)
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        assert 18 <= age <= 64


impossible_days = st.sampled_from([0, 32, 33, 39, 40, 72, 80, 99])
impossible_months = st.sampled_from([0, 13, 20, 99])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), day=impossible_days, month=st.integers(1, 12))
def test_an_impossible_birth_day_is_caught(villages, known, seed: int, day: int, month: int) -> None:
    nik = _people(villages, seed, 1)[0].nik
    corrupted = f"{nik[:6]}{day:02d}{month:02d}{nik[10:]}"
    assert "impossible_birth_date" in {
        p.code for p in check_nik(corrupted, known_regions=known, today=TODAY).problems
    }


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), month=impossible_months, female=st.booleans())
def test_an_impossible_birth_month_is_caught(villages, known, seed: int, month: int, female: bool) -> None:
    nik = _people(villages, seed, 1)[0].nik
    corrupted = f"{nik[:6]}{15 + 40 * female:02d}{month:02d}{nik[10:]}"
    assert "impossible_birth_date" in {
        p.code for p in check_nik(corrupted, known_regions=known, today=TODAY).problems
    }


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("290200", True),
        ("290201", False),
        ("690200", True),
        ("300200", False),
        ("310400", False),
        ("710400", False),
    ],
)
def test_leap_days_and_short_months(known, digits: str, ok: bool) -> None:
    problems = check_nik(f"327601{digits}0001", known_regions=known, today=TODAY).problems
    assert ("impossible_birth_date" not in {p.code for p in problems}) is ok


UNKNOWN = {2: "unknown_province", 4: "unknown_regency", 6: "unknown_district"}


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), level=st.sampled_from([2, 4, 6]), digits=st.integers(0, 99))
def test_an_unknown_region_is_caught(villages, known, seed: int, level: int, digits: int) -> None:
    nik = _people(villages, seed, 1)[0].nik
    code = f"{nik[: level - 2]}{digits:02d}"
    assume(code not in known)
    problems = check_nik(code + nik[level:], known_regions=known, today=TODAY).problems
    assert UNKNOWN[level] in {p.code for p in problems}


@pytest.mark.parametrize("bad", ["", "123", "32760145019900031", "3276014501990O03", "3276-01450199003"])
def test_not_sixteen_digits(known, bad: str) -> None:
    result = check_nik(bad, known_regions=known, today=TODAY)
    assert [p.code for p in result.problems] == ["not_16_digits"]
    assert result.parsed is None


def test_serial_zero_and_two_digit_years(known) -> None:
    assert [p.code for p in check_nik("3276014501990000", known_regions=known, today=TODAY).problems] == [
        "zero_serial"
    ]
    # A two-digit year is 20xx unless that date is still to come: then it is 19xx.
    assert check_nik("3276012411260001", known_regions=known, today=TODAY).parsed.date == date(2026, 11, 24)
    assert check_nik("3276012511260001", known_regions=known, today=TODAY).parsed.date == date(1926, 11, 25)
    assert check_kk("3276012511260001", known_regions=known, today=TODAY).parsed.date == date(1926, 11, 25)


@pytest.mark.parametrize("digit", ["\u00b2", "\u0663", "\uff10"])
def test_non_ascii_digits_are_not_digits(known, digit: str) -> None:
    for position in (0, 7, 14):
        value = "3276014501990003"
        value = value[:position] + digit + value[position + 1 :]
        assert [p.code for p in check_nik(value, known_regions=known, today=TODAY).problems] == [
            "not_16_digits"
        ]
        assert [p.code for p in check_kk(value, known_regions=known, today=TODAY).problems] == [
            "not_16_digits"
        ]


def test_every_problem_is_reported_not_only_the_first(known) -> None:
    codes = [p.code for p in check_nik("9901013201990000", known_regions=known, today=TODAY).problems]
    assert codes == ["unknown_province", "impossible_birth_date", "zero_serial"]


def test_female_day_offset_parses(known) -> None:
    parsed = check_nik("3276014501990003", known_regions=known, today=TODAY).parsed
    assert parsed.sex == "P" and parsed.date == date(1999, 1, 5)
    parsed = check_nik("3276010501990003", known_regions=known, today=TODAY).parsed
    assert parsed.sex == "L" and parsed.date == date(1999, 1, 5)


def test_kk_issue_date_must_be_real_and_past(known) -> None:
    assert check_kk("3276011503150007", known_regions=known, today=TODAY).ok
    assert [p.code for p in check_kk("3276014503150007", known_regions=known, today=TODAY).problems] == [
        "impossible_issue_date"
    ]


def test_population_follows_the_programme_distributions(villages) -> None:
    people = _people(villages, 7, 20_000)
    n = len(people)
    assert n == 20_000
    assert abs(sum(p.rural == "true" for p in people) / n - 0.56) < 0.02
    assert abs(sum(p.sex == "P" for p in people) / n - 0.49) < 0.02
    assert abs(sum(p.disability == "true" for p in people) / n - 0.03) < 0.006
    assert len({p.nik for p in people}) == n
    assert len({p.phone for p in people}) == n
    assert len({p.email for p in people}) == n
    households = Counter(p.kk for p in people)
    assert max(households.values()) <= 3 and min(households.values()) >= 1
    assert len(households) < n * 0.8
    by_kk = {}
    for p in people:
        assert by_kk.setdefault(p.kk, p.village_code) == p.village_code
    rural_codes = {code for code, rural in villages if rural}
    assert all((p.village_code in rural_codes) == (p.rural == "true") for p in people)
    assert {p.education for p in people} <= {"none", "sd", "smp", "sma", "diploma", "s1", "s2", "s3"}
    assert {p.employment_status for p in people} == {"unemployed", "laid_off", "worker", "micro_entrepreneur"}


def test_the_same_seed_gives_the_same_people(villages) -> None:
    assert _people(villages, 3, 200) == _people(villages, 3, 200)
    assert _people(villages, 3, 200) != _people(villages, 4, 200)


def test_people_generate_command_writes_the_import_format(tmp_path) -> None:
    out = tmp_path / "people.csv"
    call_command("people", "generate", "250", "--out", str(out), "--seed", "5", "--as-of", "2026-11-24")
    rows = list(csv.reader(out.open()))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 251
    assert all(len(r[0]) == 16 and len(r[7]) == 10 and r[4] in {"L", "P"} for r in rows[1:])
    again = tmp_path / "again.csv"
    call_command("people", "generate", "250", "--out", str(again), "--seed", "5", "--as-of", "2026-11-24")
    assert out.read_bytes() == again.read_bytes()


def test_nik_check_command(capsys) -> None:
    call_command("nik", "check", "3276014501990003", "--json")
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["valid"] is True
    assert parsed["regency"] == "Kota Depok"
    assert parsed["sex"] == "P" and parsed["birth_date"] == "1999-01-05"
    assert parsed["nik"] == "************0003"

    with pytest.raises(SystemExit) as exit_info:
        call_command("nik", "check", "3276013201990003")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "320199" in err
    assert "3276013201990003" not in err


def test_nik_check_api_keeps_the_number_out_of_urls_and_answers() -> None:
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    ok = client.post(
        "/api/v1/identity/nik/check", {"number": "3276014501990003"}, content_type="application/json"
    )
    assert ok.status_code == 200
    assert ok.json() == {
        "number": "************0003",
        "province_code": "32",
        "regency_code": "3276",
        "district_code": "327601",
        "date": "1999-01-05",
        "sex": "P",
    }
    bad = client.post(
        "/api/v1/identity/nik/check", {"number": "9901013201990000"}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert bad["Content-Type"] == "application/problem+json"
    assert [p["code"] for p in bad.json()["problems"]] == [
        "unknown_province",
        "impossible_birth_date",
        "zero_serial",
    ]
    assert "9901013201990000" not in bad.content.decode()
    kk = client.post(
        "/api/v1/identity/kk/check", {"number": "3276011503150007"}, content_type="application/json"
    )
    assert kk.json()["date"] == "2015-03-15"
    malformed = client.post("/api/v1/identity/nik/check", {"nik": 1}, content_type="application/json")
    assert malformed.status_code == 422
    assert malformed.json()["problems"][0]["field"].endswith("number")
