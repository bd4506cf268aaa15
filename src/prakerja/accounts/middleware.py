"""PMO staff must pass their TOTP second factor before any page but the second-factor page itself."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from prakerja.accounts.permissions import PMO_ROLES

SESSION_KEY = "second_factor_ok"
_OPEN_PREFIXES = ("/akun/2fa/", "/akun/keluar/", "/static/", "/i18n/", "/api/")


class StaffSecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and getattr(user, "role", None) in PMO_ROLES
            and not request.session.get(SESSION_KEY)
            and not request.path.startswith(_OPEN_PREFIXES)
        ):
            return redirect("accounts:second_factor")
        return self.get_response(request)
