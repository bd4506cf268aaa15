"""The public region-code lookup page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from prakerja.core.errors import InvalidInput, PrakerjaError
from prakerja.regions.models import Level
from prakerja.regions.selectors import region_get


def lookup(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("village_code", "").strip()
    village, error = None, None
    if code:
        try:
            village = region_get(code)
            if village.level != Level.VILLAGE:
                raise InvalidInput(_("Enter the 10-digit code of a village (desa/kelurahan)."))
        except PrakerjaError as exc:
            village, error = None, exc
    return render(request, "regions/lookup.html", {"village": village, "error": error})
