"""Renders a PrakerjaError raised by a page as a readable page (or an htmx fragment), never a trace;
an anonymous visitor is sent to the log-in page instead."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from prakerja.core.api import logged_as_shed
from prakerja.core.errors import NotAuthenticated, PrakerjaError


class ErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> Any:
        if not isinstance(exc, PrakerjaError) or request.path.startswith("/api/"):
            return None
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(request.get_full_path())
        template = "core/_error.html" if getattr(request, "htmx", False) else "core/error.html"
        response = render(request, template, {"error": exc}, status=exc.status)
        for name, value in exc.headers().items():
            response[name] = value
        return logged_as_shed(exc, response)
