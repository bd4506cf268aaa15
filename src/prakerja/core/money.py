"""Money is a whole number of rupiah: never a float, never a Decimal on SQLite."""

import re

from django.db import models

_DIGITS = re.compile(r"^-?\d+$")


class RupiahField(models.BigIntegerField):
    """An amount in whole rupiah."""


def format_rupiah(amount: int) -> str:
    """1500000 -> 'Rp1.500.000' (Indonesian grouping with dots)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"rupiah amounts are int, not {type(amount).__name__}")
    grouped = f"{abs(amount):,}".replace(",", ".")
    return f"-Rp{grouped}" if amount < 0 else f"Rp{grouped}"


def parse_rupiah(text: str) -> int:
    """'Rp1.500.000', '1.500.000' or '1500000' -> 1500000; anything with cents or letters is refused."""
    cleaned = text.strip().replace(" ", "")
    negative = cleaned.startswith("-")
    cleaned = cleaned.lstrip("-")
    if cleaned[:2].lower() == "rp":
        cleaned = cleaned[2:]
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", cleaned):
        cleaned = cleaned.replace(".", "")
    if not _DIGITS.match(cleaned):
        raise ValueError(f"not a whole rupiah amount: {text!r}")
    return -int(cleaned) if negative else int(cleaned)
