"""Reads of the regions tables."""

from functools import lru_cache
from typing import Any

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


@lru_cache(maxsize=1)
def _villages_rural() -> dict[str, bool | None]:
    return dict(Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural"))


def _cached(read: Any) -> Any:
    found = read()
    if not found:  # regions not loaded yet: ask again next time
        read.cache_clear()
    return found


def names_above_villages() -> dict[str, str]:
    """Code -> name of every province, regency and district (cached: about 7,800 entries)."""
    names: dict[str, str] = _cached(_names_above_villages)
    return names


def villages_rural() -> dict[str, bool | None]:
    """Code -> rural (None when the source does not say) of every village (cached: about 84,000 entries)."""
    villages: dict[str, bool | None] = _cached(_villages_rural)
    return villages


def forget_cached_regions() -> None:
    _names_above_villages.cache_clear()
    _villages_rural.cache_clear()
