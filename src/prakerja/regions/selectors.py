"""Reads of the regions tables."""

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


def names_above_villages() -> dict[str, str]:
    """Code -> name of every province, regency and district (cached: about 7,800 entries)."""
    names = _names_above_villages()
    if not names:
        _names_above_villages.cache_clear()
    return names


def forget_cached_names() -> None:
    _names_above_villages.cache_clear()
