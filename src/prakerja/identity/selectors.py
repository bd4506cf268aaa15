"""Checks of identity numbers against the regions tables."""

from collections.abc import Iterable

from django.utils import timezone

from prakerja.core.crypto import blind_index, blind_indexes
from prakerja.identity.rules import Check, check_kk, check_nik
from prakerja.regions.selectors import names_above_villages


def nik_check(value: str) -> Check:
    return check_nik(value, known_regions=names_above_villages(), today=timezone.localdate())


def kk_check(value: str) -> Check:
    return check_kk(value, known_regions=names_above_villages(), today=timezone.localdate())


def nik_index(nik: str) -> str:
    return blind_index(nik, purpose="nik")


def kk_index(kk: str) -> str:
    return blind_index(kk, purpose="kk")


def nik_indexes(niks: Iterable[str]) -> list[str]:
    """`nik_index` of each NIK, for a batch."""
    return blind_indexes(niks, purpose="nik")


def kk_indexes(kks: Iterable[str]) -> list[str]:
    """`kk_index` of each KK, for a batch."""
    return blind_indexes(kks, purpose="kk")
