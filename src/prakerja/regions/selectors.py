"""Reads of the regions tables."""

from collections.abc import Container
from functools import cache, lru_cache

from django.db.models import QuerySet

from prakerja.core.errors import NotFound
from prakerja.regions.models import Level, Region


def provinces() -> QuerySet[Region]:
    return Region.objects.filter(level=Level.PROVINCE).order_by("code")


def region_get(code: str) -> Region:
    try:
        return Region.objects.get(code=code)
    except Region.DoesNotExist:
        raise NotFound(code="unknown_region") from None


def children_of(code: str) -> QuerySet[Region]:
    region_get(code)
    return Region.objects.filter(parent_id=code).order_by("code")


@lru_cache(maxsize=1)
def _names_above_villages() -> dict[str, str]:
    return dict(Region.objects.filter(level__lt=Level.VILLAGE).values_list("code", "name"))


@cache  # bounded: one entry per four digits, and Indonesia has 514 regencies
def _villages_of_regency(regency: str) -> frozenset[str]:
    # A range on the primary key alone (LIKE cannot use a collated index on PostgreSQL; a condition on the
    # level can lead the planner to read the whole level index): the regency's districts come along.
    found = Region.objects.filter(code__range=(f"{regency}000000", f"{regency}999999"))
    return frozenset(code for code, level in found.values_list("code", "level") if level == Level.VILLAGE)


class _VillageCodes:
    def __contains__(self, code: object) -> bool:
        if not (isinstance(code, str) and len(code) == 10 and code.isascii() and code.isdigit()):
            return False
        return code in _villages_of_regency(code[:4])


def names_above_villages() -> dict[str, str]:
    """Code -> name of every province, regency and district (cached: about 7,800 entries)."""
    names = _names_above_villages()
    if not names:
        _names_above_villages.cache_clear()
    return names


def village_codes() -> Container[str]:
    """The codes of villages, looked up by a process a regency at a time when first asked about (a serving
    process neither loads all 84,000 before its first answer nor asks the database once a registration)."""
    return _VillageCodes()


def forget_cached_regions() -> None:
    _names_above_villages.cache_clear()
    _villages_of_regency.cache_clear()
