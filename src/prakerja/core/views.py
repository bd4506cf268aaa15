"""Django's error handler for what no other layer answered."""

import sys

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from prakerja.core.api import problem_response
from prakerja.core.errors import DatabaseUnavailable


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500, except when the database could not do the work (no free connection, down, locked too
    long): 503 with Retry-After, so people and clients try again rather than give up. Django still logs it
    with its traceback."""
    if not isinstance(sys.exc_info()[1], OperationalError):
        return defaults.server_error(request)
    error = DatabaseUnavailable()
    if request.path.startswith("/api/"):
        return problem_response(error)
    # Rendered without the request: its context (the signed-in user) would ask the database again.
    response = HttpResponse(render_to_string("core/error.html", {"error": error}), status=error.status)
    for name, value in error.headers().items():
        response[name] = value
    return response
