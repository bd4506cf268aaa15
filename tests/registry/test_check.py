"""The registry's links without database-level foreign keys: `registry_check` (in `prakerja ledger check`)
finds any that dangle, and Django still protects and cascades them."""

import csv

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import ProtectedError

from prakerja.core.checks import breaches
from prakerja.ledger.selectors import ledger_check
from prakerja.registry.models import Applicant, EligibilityDecision, RuleSet
from prakerja.registry.selectors import registry_check

pytestmark = pytest.mark.django_db

NOBODY = 10**12  # an id no row has


@pytest.fixture
def imported(tmp_path) -> list[Applicant]:
    path = tmp_path / "people.csv"
    call_command("people", "generate", "6", "--out", str(path), "--seed", "5")
    call_command("applicants", "import", str(path))
    assert len(list(csv.DictReader(path.open()))) == 6
    return list(Applicant.objects.order_by("pk"))


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_an_import_leaves_every_link_whole(imported) -> None:
    assert registry_check() == []
    assert ledger_check() == []


def test_the_check_names_each_dangling_link_by_id(imported, capsys) -> None:
    table, decisions = Applicant._meta.db_table, EligibilityDecision._meta.db_table
    first, second, third = imported[:3]
    _sql(f"UPDATE {table} SET village_id = %s WHERE id = %s", ["9999999999", first.pk])
    _sql(f"UPDATE {table} SET ruleset_id = %s WHERE id = %s", [NOBODY, second.pk])
    _sql(f"UPDATE {table} SET user_id = %s WHERE id = %s", [NOBODY, third.pk])
    orphan = EligibilityDecision.objects.filter(applicant=imported[3]).get()
    _sql(f"UPDATE {decisions} SET applicant_id = %s WHERE id = %s", [NOBODY, orphan.pk])
    stray = EligibilityDecision.objects.filter(applicant=imported[4]).get()
    _sql(f"UPDATE {decisions} SET ruleset_id = %s WHERE id = %s", [NOBODY, stray.pk])
    assert registry_check() == [
        f"applicant {first.pk} names a village that does not exist",
        f"applicant {second.pk} names a rule set that does not exist",
        f"applicant {third.pk} names a user account that does not exist",
        f"decision {orphan.pk} is about an applicant who does not exist",
        f"decision {stray.pk} names a rule set that does not exist",
    ]
    with pytest.raises(SystemExit) as exit_info:
        call_command("ledger", "check")
    assert exit_info.value.code == 1
    assert f"applicant {first.pk} names a village that does not exist" in capsys.readouterr().err


def test_many_dangling_rows_are_counted_beyond_the_examples(imported) -> None:
    _sql(f"UPDATE {Applicant._meta.db_table} SET ruleset_id = %s", [NOBODY])
    assert len(registry_check()) == len(imported)
    named = breaches(Applicant.objects.order_by("pk"), "pk", "applicant {} is astray", examples=2)
    assert named == [f"applicant {a.pk} is astray" for a in imported[:2]] + ["… 4 more like these"]


def test_django_still_cascades_and_protects_without_the_constraints(imported) -> None:
    applicant = imported[0]
    assert EligibilityDecision.objects.filter(applicant=applicant).exists()
    with pytest.raises(ProtectedError):
        RuleSet.objects.filter(pk=applicant.ruleset_id).delete()
    applicant.delete()
    assert not EligibilityDecision.objects.filter(applicant_id=applicant.pk).exists()
    assert registry_check() == []
