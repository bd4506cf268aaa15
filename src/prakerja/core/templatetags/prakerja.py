"""Template filters available in every template: rupiah amounts and local times."""

from datetime import datetime

from django import template

from prakerja.core.money import format_rupiah
from prakerja.core.time import local_time

register = template.Library()


@register.filter
def rupiah(amount: int) -> str:
    return format_rupiah(int(amount))


@register.filter
def localtime_in(moment: datetime | None, province_code: str | None = None) -> str:
    """{{ when|localtime_in:applicant.province_code }} -> '24-11-2026 19:30 WITA'."""
    return local_time(moment, province_code) if moment else ""
