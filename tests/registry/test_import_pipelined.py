"""The import outside any transaction: on PostgreSQL a writer thread stores each batch while the next is
prepared. Batches still commit whole, counts add up, and a second run imports nothing new."""

import sys

import pytest
from django.db import connection
from django.utils import timezone

from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.regions.models import Level, Region
from prakerja.regions.selectors import forget_cached_regions
from prakerja.registry.models import Applicant, EligibilityDecision
from prakerja.registry.services import BATCH, PIPELINED_SWITCH_SECONDS, applicants_import


def _villages() -> list[tuple[str, bool]]:
    """A desa and a kelurahan: real ones when an earlier test left the regions loaded, else made here."""
    villages = Region.objects.filter(level=Level.VILLAGE)
    found = [villages.filter(rural=rural).values_list("code", "rural").first() for rural in (True, False)]
    if all(found):
        return found  # type: ignore[return-value]
    province = Region.objects.create(code="32", name="JAWA BARAT", level=Level.PROVINCE, kind="provinsi")
    regency = Region.objects.create(
        code="3273", name="BANDUNG", level=Level.REGENCY, kind="kota", parent=province
    )
    district = Region.objects.create(
        code="327301", name="SUKASARI", level=Level.DISTRICT, kind="-", parent=regency
    )
    for code, rural in (("3273011001", True), ("3273011002", False)):
        Region.objects.create(
            code=code, name=code, level=Level.VILLAGE, kind="-", parent=district, rural=rural
        )
    forget_cached_regions()
    return [("3273011001", True), ("3273011002", False)]


@pytest.fixture
def fresh_names():
    yield
    forget_cached_regions()  # the next test's regions are not this test's


@pytest.mark.django_db(transaction=True)
def test_a_pipelined_import_counts_every_row_once(fresh_names) -> None:
    assert not connection.in_atomic_block
    people = list(generate_people(BATCH * 2 + 300, villages=_villages(), seed=8, today=timezone.localdate()))
    rows = [(n, dict(zip(COLUMNS, p.row(), strict=True))) for n, p in enumerate(people, start=2)]
    rows.append((len(rows) + 2, rows[0][1]))  # the same NIK twice in one file
    seen: list[int] = []
    switch_interval = sys.getswitchinterval()
    during: set[float] = set()
    result = applicants_import(rows=rows, actor="test", on_error=lambda line, problems: seen.append(line),
                               progress=lambda n: during.add(sys.getswitchinterval()))  # fmt: skip
    assert (result.read, result.imported, result.rejected, result.duplicates) == (
        len(rows),
        len(people),
        1,
        0,
    )
    assert seen == [len(rows) + 1]
    assert Applicant.objects.count() == EligibilityDecision.objects.count() == len(people)
    # The GIL handed over sooner only while the writer thread runs (on PostgreSQL).
    assert during == {PIPELINED_SWITCH_SECONDS if connection.vendor == "postgresql" else switch_interval}
    assert sys.getswitchinterval() == switch_interval
    again = applicants_import(rows=rows, actor="test", on_error=lambda line, problems: None)
    assert (again.imported, again.duplicates) == (0, len(people))
