"""Reads of the regions tables."""

from collections.abc import Container
from functools import lru_cache

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


@lru_cache(maxsize=65_536)
def _village_known(code: str) -> bool:
    return Region.objects.filter(code=code, level=Level.VILLAGE).exists()


class _VillageCodes:
    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and _village_known(code)


def names_above_villages() -> dict[str, str]:
    """Code -> name of every province, regency and district (cached: about 7,800 entries)."""
    names = _names_above_villages()
    if not names:
        _names_above_villages.cache_clear()
    return names


def village_codes() -> Container[str]:
    """The codes of villages, each looked up once by a process when first asked about (a serving process
    does not load all 84,000 before its first answer)."""
    return _VillageCodes()


def forget_cached_regions() -> None:
    _names_above_villages.cache_clear()
    _village_known.cache_clear()
