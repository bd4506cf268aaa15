"""The JSON API at /api/v1/: every app's router, one error format, the OpenAPI document."""

from django.db import connection
from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from prakerja.accounts.api import router as accounts_router
from prakerja.catalog.api import router as catalog_router
from prakerja.core.api import install_error_handlers
from prakerja.enrolment.api import router as enrolment_partner_router
from prakerja.identity.api import router as identity_router
from prakerja.partners.api import router as partner_router
from prakerja.payments.api import router as payments_router
from prakerja.regions.api import router as regions_router
from prakerja.registry.api import router as registry_router
from prakerja.waves.api import router as waves_router

api = NinjaAPI(
    title="Prakerja API", version="1", description="Pre-employment programme: open data and partner API."
)
install_error_handlers(api)


class Health(Schema):
    status: str
    database: str


@api.get("/health", response=Health, tags=["meta"])
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness and database reachability."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "database": connection.vendor}


api.add_router("/regions", regions_router)
api.add_router("/identity", identity_router)
api.add_router("/accounts", accounts_router)
api.add_router("/registry", registry_router)
api.add_router("/waves", waves_router)
api.add_router("/payments", payments_router)
api.add_router("/trainings", catalog_router)
api.add_router("/partner", partner_router)
api.add_router("/partner", enrolment_partner_router)
