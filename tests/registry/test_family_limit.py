"""At most `max_per_kk` recipients per family card (KK): counted from the applicants of the family on an
active former-recipient list, applied by registration, import and every re-check."""

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from prakerja.accounts.services import participant_signup
from prakerja.identity.generator import COLUMNS
from prakerja.identity.selectors import nik_index
from prakerja.registry import rules
from prakerja.registry.models import Applicant, EligibilityDecision
from prakerja.registry.selectors import applicant_by_nik, family_recipients
from prakerja.registry.services import (
    applicant_register,
    exclusion_list_extend,
    exclusion_list_remove,
    exclusion_list_upload,
    ruleset_create,
)

pytestmark = pytest.mark.django_db
KK_BIT = rules.RULE_BIT["kk_limit"]


@pytest.fixture
def rows(tmp_path) -> list[dict[str, str]]:
    """Twelve people; the first six share the first one's family card."""
    path = tmp_path / "people.csv"
    call_command("people", "generate", "12", "--out", str(path), "--seed", "5")
    people = list(csv.DictReader(path.open()))
    assert len({p["kk"] for p in people[6:]} - {people[0]["kk"]}) > 1
    for person in people[1:6]:
        person["kk"] = people[0]["kk"]
    return people


def _import(tmp_path: Path, rows: list[dict[str, str]], capsys) -> dict[str, int]:
    path = tmp_path / "part.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    call_command("applicants", "import", str(path), "--json")
    return json.loads(capsys.readouterr().out)


def _former(*people: dict[str, str]) -> None:
    exclusion_list_extend(
        kind="former_recipient", source="test", indexes=[nik_index(p["nik"]) for p in people], actor="test"
    )


def _codes(person: dict[str, str]) -> list[str]:
    applicant = applicant_by_nik(person["nik"])
    assert applicant is not None
    assert applicant.eligible == (applicant.failing_rules == 0)
    return [r.code for r in applicant.reasons]


def _register(person: dict[str, str], n: int) -> Applicant:
    user = participant_signup(
        email=f"kin{n}@example.org", phone=f"08123459{n:04d}", password="a-good-long-pass-1"
    )
    user.email_verified_at = user.phone_verified_at = timezone.now()
    user.save()
    fields = ("nik", "kk", "full_name", "birth_date", "sex", "village_code", "rural", "education",
              "employment_status", "disability")  # fmt: skip
    return applicant_register(
        user=user, data={f: person[f] for f in fields}, consents=list(rules.CONSENT_TEXTS)
    )


@pytest.mark.parametrize("new_rule_set", [False, True], ids=["same rule set", "rule set changed between"])
def test_a_family_with_two_recipients_has_no_third(rows, tmp_path, capsys, new_rule_set) -> None:
    assert _import(tmp_path, rows[:3] + rows[6:], capsys)["imported"] == 9
    _former(rows[0])
    assert [_codes(p) for p in rows[:3]] == [["former_recipient"], [], []]
    if new_rule_set:  # everyone is then decided again in full, by the pure rules
        ruleset_create(params={"max_age": 64}, note="test", actor="test")
    _former(rows[1])
    # The second recipient of the family: its third member fails the family limit, and only that; each
    # recipient counts the other one only, which is below the limit.
    assert [_codes(p) for p in rows[:3]] == [["former_recipient"], ["former_recipient"], ["kk_limit"]]
    assert all(_codes(p) == [] for p in rows[6:])
    third = applicant_by_nik(rows[2]["nik"])
    latest = EligibilityDecision.objects.filter(applicant=third).order_by("-id").first()
    assert latest.failing_rules == KK_BIT and latest.cause.startswith("list:")

    # Who joins the family later is refused at once: by the import and by registration.
    assert _import(tmp_path, rows[3:4], capsys)["imported"] == 1
    assert _codes(rows[3]) == ["kk_limit"]
    registered = _register(rows[4], 1)
    assert [r.code for r in registered.reasons] == ["kk_limit"] and not registered.eligible
    assert _codes(rows[4]) == ["kk_limit"]

    # The list retired: nobody of the family received the programme any more.
    former = third.decisions.order_by("-id").first().cause.removeprefix("list:")
    exclusion_list_remove(list_id=int(former), actor="test")
    assert all(_codes(p) == [] for p in rows[:5])


def test_a_waived_family_limit_stays_waived_and_the_limit_is_the_rule_set_s(rows, tmp_path, capsys) -> None:
    _import(tmp_path, rows[:3], capsys)
    Applicant.objects.filter(nik_index=nik_index(rows[2]["nik"])).update(waived_rules=KK_BIT)
    ruleset_create(params={"max_per_kk": 1}, note="one a family", actor="test")
    _former(rows[0])
    assert [_codes(p) for p in rows[:3]] == [["former_recipient"], ["kk_limit"], []]
    _former(rows[1])  # decided under the rule set in force: only list and family rules are redone
    assert [_codes(p) for p in rows[:3]] == [
        ["kk_limit", "former_recipient"],
        ["kk_limit", "former_recipient"],
        [],
    ]


def test_family_recipients_counts_the_others_on_the_card(rows, tmp_path, capsys) -> None:
    _import(tmp_path, rows[:3] + rows[6:7], capsys)
    kk_of = dict(Applicant.objects.values_list("nik_index", "kk_index"))
    assert family_recipients(kk_of.items()) == {}  # no list of former recipients: nothing is read
    _former(rows[0], rows[1], rows[6])
    first, second, third, other = (nik_index(p["nik"]) for p in (*rows[:3], rows[6]))
    assert family_recipients(kk_of.items()) == {first: 1, second: 1, third: 2}
    # Someone not registered yet, on the family's card: both recipients count.
    assert family_recipients([("someone-new", kk_of[first])]) == {"someone-new": 2}
    assert other not in family_recipients(kk_of.items())


def _historic(*people: dict[str, str]) -> None:
    """A list of former recipients from before this system, uploaded while they are not registered."""
    exclusion_list_upload(
        kind="former_recipient",
        source="earlier programme",
        as_of=date(2024, 12, 31),
        niks=list(enumerate((p["nik"] for p in people), 1)),
        actor="test",
        on_error=lambda line, problems: pytest.fail(f"line {line}: {problems}"),
    )


def test_former_recipients_registering_later_count_for_their_family(rows, tmp_path, capsys) -> None:
    _historic(rows[0], rows[1])
    _import(tmp_path, rows[2:4], capsys)
    assert [_codes(p) for p in rows[2:4]] == [[], []]  # nobody of the family registered yet
    _import(tmp_path, rows[:1], capsys)
    # One recipient of the family registered (the other is not yet, so is not counted): below the limit.
    assert [_codes(p) for p in (rows[0], *rows[2:4])] == [["former_recipient"], [], []]
    _register(rows[1], 2)
    assert [_codes(p) for p in rows[:4]] == [
        ["former_recipient"],
        ["former_recipient"],
        ["kk_limit"],
        ["kk_limit"],
    ]
    third = applicant_by_nik(rows[2]["nik"])
    assert third.decisions.order_by("-id").first().cause == "registration"


def test_an_import_of_former_recipients_rechecks_their_families(rows, tmp_path, capsys) -> None:
    _historic(rows[0], rows[1])
    _import(tmp_path, rows[2:3], capsys)
    _import(tmp_path, rows[:2], capsys)
    assert _codes(rows[2]) == ["kk_limit"]
    assert applicant_by_nik(rows[2]["nik"]).decisions.order_by("-id").first().cause == "import"
