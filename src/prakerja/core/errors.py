"""Typed errors: each carries its HTTP status, a stable code and a translatable message."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.utils import translation
from django.utils.translation import gettext_lazy as _


def each_language(text: Callable[[], str]) -> dict[str, str]:
    """`text()` in Indonesian, then in English: commands and files are read by people of either."""
    texts = {}
    for language in ("id", "en"):
        with translation.override(language):
            texts[language] = text()
    return texts


class PrakerjaError(Exception):
    """Base of every error the programme raises on purpose; rendered for API, pages and CLI alike."""

    status = 400
    code = "bad_request"
    message: Any = _("The request could not be processed.")
    retry_after: int | None = None  # seconds, sent as Retry-After
    # The refusal is itself recorded (a wrong code counted): callers that roll back on errors keep the writes.
    keeps_writes = False
    www_authenticate: str | None = None  # the challenge sent with a 401 or 403 of a token-protected API

    def __init__(self, message: Any = None, *, code: str | None = None, **params: Any) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.params = params
        super().__init__(str(self.code))

    @property
    def detail(self) -> str:
        """The message in the active language, with its parameters filled in."""
        text = str(self.message)
        return text % self.params if self.params else text

    def headers(self) -> dict[str, str]:
        """The HTTP headers that go with this error."""
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.www_authenticate is not None:
            headers["WWW-Authenticate"] = self.www_authenticate
        return headers

    def in_both_languages(self) -> str:
        """Indonesian, then English: for the command line and files read by people of either."""
        return "\n".join(each_language(lambda: self.detail).values())


class InvalidInput(PrakerjaError):
    status = 422
    code = "invalid_input"
    message = _("Some of the data sent is not valid.")

    def __init__(self, message: Any = None, *, problems: list[dict[str, str]] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.problems = problems or []


class _Problem(Protocol):
    @property
    def code(self) -> str: ...  # "<field>:<what>"

    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class Reasons:
    """Problems joined in whatever language is active when the message is shown."""

    problems: Sequence[_Problem]

    def __str__(self) -> str:
        return "; ".join(p.message for p in self.problems)


InvalidT = TypeVar("InvalidT", bound=InvalidInput)


def invalid(error: type[InvalidT], problems: Sequence[_Problem]) -> InvalidT:
    """`error` carrying every problem: joined in its message (as %(reasons)s), and one per field for forms."""
    return error(reasons=Reasons(problems), problems=problem_dicts(problems))


def problem_dicts(problems: Sequence[_Problem]) -> list[dict[str, str]]:
    """Problems as the API and the forms show them: the field, what is wrong with it, the message."""
    return [
        {"field": p.code.partition(":")[0], "code": p.code.partition(":")[2], "message": p.message}
        for p in problems
    ]


class NotAuthenticated(PrakerjaError):
    status = 401
    code = "not_authenticated"
    message = _("Please log in first.")


class Forbidden(PrakerjaError):
    status = 403
    code = "forbidden"
    message = _("You are not allowed to do this.")


class NotFound(PrakerjaError):
    status = 404
    code = "not_found"
    message = _("What you asked for does not exist.")


class Conflict(PrakerjaError):
    status = 409
    code = "conflict"
    message = _("This conflicts with data that already exists.")


class Locked(PrakerjaError):
    status = 423
    code = "locked"
    message = _("This is locked for now.")


class TooManyRequests(PrakerjaError):
    status = 429
    code = "too_many_requests"
    message = _("Too many attempts. Please wait and try again.")


class Overloaded(PrakerjaError):
    status = 503
    code = "overloaded"
    message = _("The service is busy right now. Please try again in a moment.")
    retry_after = 1


class DatabaseUnavailable(PrakerjaError):
    """The database could not be reached or refused the work (no free connection, down, locked too long)."""

    status = 503
    code = "unavailable"
    message = _("The service cannot reach its data right now. Please try again in a moment.")
    retry_after = 5
