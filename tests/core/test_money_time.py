from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prakerja.core.money import format_rupiah, parse_rupiah
from prakerja.core.time import local_time, zone_for_province


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "Rp0"),
        (999, "Rp999"),
        (1_500_000, "Rp1.500.000"),
        (3_550_000, "Rp3.550.000"),
        (-50_000, "-Rp50.000"),
    ],
)
def test_format_rupiah(amount: int, text: str) -> None:
    assert format_rupiah(amount) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_round_trips(amount: int) -> None:
    assert parse_rupiah(format_rupiah(amount)) == amount


@pytest.mark.parametrize("bad", [1.5, "1000", True])
def test_format_refuses_non_integers(bad: object) -> None:
    with pytest.raises(TypeError):
        format_rupiah(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["Rp1.500,50", "1,5", "satu juta", "", "Rp1.50.000"])
def test_parse_refuses_fractions_and_words(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_rupiah(bad)


@pytest.mark.parametrize(
    ("province", "label", "hour"),
    [
        ("31", "WIB", 19),
        ("3276011001", "WIB", 19),
        ("51", "WITA", 20),
        ("73", "WITA", 20),
        ("91", "WIT", 21),
        ("82", "WIT", 21),
        (None, "WIB", 19),
    ],
)
def test_local_time_by_province(province: str | None, label: str, hour: int) -> None:
    moment = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert zone_for_province(province)[0] == label
    assert local_time(moment, province) == f"24-11-2026 {hour}:30 {label}"


def test_local_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        local_time(datetime(2026, 1, 1), "31")
