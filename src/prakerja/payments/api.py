"""The providers' callback endpoint: outcomes of payments, signed by the provider (HMAC with timestamp)."""

from django.http import HttpRequest
from ninja import Router, Schema

from prakerja.payments.services import callback_receive

router = Router(tags=["payment providers"])


class CallbackAnswer(Schema):
    received: int
    applied: int


@router.post("/callbacks/", response={200: CallbackAnswer}, auth=None)
def callback(request: HttpRequest) -> dict[str, int]:
    """A provider reports payment outcomes: `{"provider", "events": [{"key", "state", "reference", "reason",
    "at"}]}` with `X-Callback-Timestamp` and `X-Callback-Signature` (docs/payment-providers.md). Forged, stale
    or malformed callbacks get 401 and are logged; repeated events are ignored."""
    received = callback_receive(
        timestamp=request.headers.get("X-Callback-Timestamp", ""),
        signature=request.headers.get("X-Callback-Signature", ""),
        body=request.body,
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    return {"received": received.events, "applied": received.applied}
