"""What the commands share."""

from typing import Any

from django.core.management.base import CommandError

from prakerja.core.errors import PrakerjaError


def refused(message: Any, **params: Any) -> CommandError:
    """A refusal of the whole command, in Indonesian and English (`message` a lazy text with %(params)s)."""
    return CommandError(PrakerjaError(message, **params).in_both_languages())
