from django.contrib import admin
from django.urls import include, path

from prakerja.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("prakerja.regions.urls")),
    path("", include("prakerja.registry.urls")),
    path("", include("prakerja.waves.urls")),
    path("", include("prakerja.catalog.urls")),
    path("", include("prakerja.enrolment.urls")),
    path("", include("prakerja.surveys.urls")),
    path("", include("prakerja.payments.urls")),
    path("", include("prakerja.partners.urls")),
    path("", include("prakerja.accounts.urls")),
]

handler500 = "prakerja.core.views.server_error"
