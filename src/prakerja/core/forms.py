"""Showing a service's refusal on the form that asked for it."""

from typing import Any

from prakerja.core.errors import PrakerjaError


def add_problems(
    form: Any, exc: PrakerjaError, *, rename: dict[str, str] | None = None, default: str | None = None
) -> None:
    """Each problem next to the field it names (renamed where the form calls the field otherwise); a refusal
    naming no field goes to `default`, or above the form."""
    problems = getattr(exc, "problems", None) or [{"field": default or "", "message": exc.detail}]
    for problem in problems:
        field = (rename or {}).get(problem["field"], problem["field"])
        form.add_error(field if field in form.fields else None, problem["message"])
