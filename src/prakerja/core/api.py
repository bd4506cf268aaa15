"""API plumbing shared by every router: errors as RFC 9457 problem+json."""

import json
import logging

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from prakerja.core.errors import InvalidInput, Overloaded, PrakerjaError

shedding = logging.getLogger("prakerja.overload")


def problem(status: int, code: str, title: str, detail: str, **extra: object) -> HttpResponse:
    body = {"type": f"urn:prakerja:problem:{code}", "title": title, "status": status, "detail": detail}
    body.update(extra)
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/problem+json"
    )


def problem_body(exc: PrakerjaError) -> dict[str, object]:
    """The problem+json document of an error, in the active language."""
    body: dict[str, object] = {
        "type": f"urn:prakerja:problem:{exc.code}",
        "title": exc.code.replace("_", " "),
        "status": exc.status,
        "detail": exc.detail,
    }
    if isinstance(exc, InvalidInput) and exc.problems:
        body["problems"] = exc.problems
    return body


def problem_response(exc: PrakerjaError) -> HttpResponse:
    """An error as an RFC 9457 response, with its headers (Retry-After, WWW-Authenticate)."""
    response = HttpResponse(
        json.dumps(problem_body(exc), ensure_ascii=False),
        status=exc.status,
        content_type="application/problem+json",
    )
    for name, value in exc.headers().items():
        response[name] = value
    return logged_as_shed(exc, response)


def logged_as_shed(exc: PrakerjaError, response: HttpResponse) -> HttpResponse:
    """Shedding load (`Overloaded`) is the plan working, not a server error: at a peak, Django's error line
    for every refused request would bury the real errors. Such answers are logged at INFO instead (logger
    prakerja.overload); every other answer is left to Django's own logging."""
    if isinstance(exc, Overloaded):
        shedding.info("shed: 503 with Retry-After %s", exc.retry_after)
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own flag (log_response)
    return response


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(PrakerjaError)
    def prakerja_error(request: HttpRequest, exc: PrakerjaError) -> HttpResponse:
        return problem_response(exc)

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", [])), "message": str(e.get("msg", ""))}
            for e in exc.errors
        ]
        return problem(
            422, "invalid_input", "invalid input", _("Some of the data sent is not valid."), problems=problems
        )

    @api.exception_handler(AuthenticationError)
    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(401, "not_authenticated", "not authenticated", _("Please log in first."))
