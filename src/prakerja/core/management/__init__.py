"""What the commands share."""

from typing import Any

from django.core.management.base import CommandError
from django.utils import translation


def in_both_languages(message: Any, **params: Any) -> str:
    """`message` (a lazy text with %(params)s) in Indonesian, then English: commands speak to either."""
    texts = []
    for language in ("id", "en"):
        with translation.override(language):
            texts.append(str(message) % params if params else str(message))
    return "\n".join(texts)


def refused(message: Any, **params: Any) -> CommandError:
    """A refusal of the whole command, in Indonesian and English."""
    return CommandError(in_both_languages(message, **params))
