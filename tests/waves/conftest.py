"""A few hundred registered people in three regencies of two provinces, for waves to draw from."""

import pytest
from django.utils import timezone

from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.regions.models import Level, Region
from prakerja.registry.models import Applicant
from prakerja.registry.services import applicants_import


@pytest.fixture
def applicants(db) -> list[Applicant]:
    villages = list(
        Region.objects.filter(level=Level.VILLAGE)
        .filter(code__regex=r"^(3273|3204|3171)")
        .values_list("code", "rural")
    )
    people = generate_people(400, villages=villages, seed=5, today=timezone.localdate())
    rows = ((n, dict(zip(COLUMNS, p.row(), strict=True))) for n, p in enumerate(people, start=2))
    applicants_import(rows=rows, actor="test", on_error=lambda line, problems: None)
    return list(Applicant.objects.order_by("pk"))
