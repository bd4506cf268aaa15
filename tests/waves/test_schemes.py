import pytest

from prakerja.core.money import format_rupiah
from prakerja.waves.models import Scheme

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("code", "training", "total"),
    [
        ("semi-bansos-2020", 1_000_000, 3_550_000),
        ("normal-2022", 3_500_000, 4_200_000),
        ("normal-2020", 5_000_000, 5_500_000),
    ],
)
def test_the_published_schemes_are_seeded(code: str, training: int, total: int) -> None:
    scheme = Scheme.objects.get(code=code)
    assert scheme.training_balance == training
    assert scheme.total_per_recipient == total
    assert scheme.purchase_deadline_days == 30


def test_the_2020_scheme_reads_as_published() -> None:
    scheme = Scheme.objects.get(code="semi-bansos-2020")
    assert format_rupiah(scheme.incentive_amount) == "Rp600.000"
    assert (scheme.incentive_instalments, scheme.survey_count) == (4, 3)
