"""Template filters of the catalogue."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from prakerja.catalog.rules import sanitise

register = template.Library()


@register.filter
def description(text: str) -> SafeString:
    """A partner's description as HTML, sanitised again on display: rows written in bulk skip the service."""
    return mark_safe(sanitise(text or ""))  # noqa: S308 - nh3 has just removed everything but simple markup
