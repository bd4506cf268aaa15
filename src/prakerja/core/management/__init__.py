"""What the commands share."""

from typing import Any

from django.core.management.base import CommandError

from prakerja.core.errors import each_language


def in_both_languages(message: Any, **params: Any) -> str:
    """`message` (a lazy text with %(params)s) in Indonesian, then English: commands speak to either."""
    return "\n".join(each_language(lambda: str(message) % params if params else str(message)).values())


def refused(message: Any, **params: Any) -> CommandError:
    """A refusal of the whole command, in Indonesian and English."""
    return CommandError(in_both_languages(message, **params))
