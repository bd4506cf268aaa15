"""Idempotency keys for API writes (after Stripe): the first answer to a key is stored with the request's
writes, a retry gets it again, another request under the key is refused. Usage: docs/partner-api.md."""

import hashlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy as _
from ninja.decorators import decorate_view
from ninja.operation import Operation

from prakerja.core.crypto import decrypt, encrypt
from prakerja.core.errors import PrakerjaError
from prakerja.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: a UUID, a ULID, the client's own request id
_STATE = "_prakerja_idempotency"
_LOCK_NOT_AVAILABLE = "55P03"

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


class IdempotencyKeyMissing(PrakerjaError):
    status = 422
    code = "idempotency_key_missing"
    message = _("Send an Idempotency-Key header with every write, a new one for each new request.")


class IdempotencyKeyInvalid(PrakerjaError):
    status = 422
    code = "idempotency_key_invalid"
    message = _("The Idempotency-Key must be 1 to 255 visible ASCII characters.")


class IdempotencyKeyReused(PrakerjaError):
    status = 422
    code = "idempotency_key_reused"
    message = _("This Idempotency-Key was already used for a different request. Use a new key.")


class IdempotencyKeyInProgress(PrakerjaError):
    status = 409
    code = "idempotency_key_in_progress"
    message = _("A request with this Idempotency-Key is still being processed. Retry it in a moment.")
    retry_after = 1


def request_fingerprint(request: HttpRequest) -> str:
    """SHA-256 of the method, the path with its query and the body (JSON in canonical form)."""
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    digest.update(_canonical_body(request))
    return digest.hexdigest()


def _canonical_body(request: HttpRequest) -> bytes:
    try:
        body = request.body
    except RawPostDataException:
        # A multipart body already parsed by ninja: its fields in order, and each file by its digest.
        parts = sorted((k, v) for k in request.POST for v in request.POST.getlist(k))
        files = []
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                upload.seek(0)
                files.append((name, upload.name, hashlib.sha256(upload.read()).hexdigest()))
                upload.seek(0)
        return json.dumps({"fields": parts, "files": files}, ensure_ascii=False).encode()
    if not body:
        return b""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _worth_keeping(exc: PrakerjaError) -> bool:
    """A retry may succeed after a transient error, so those are not replayed."""
    return exc.status < 500 and exc.status != 429 and exc.retry_after is None


@dataclass
class _Run:
    """One request through an idempotent operation: the open transaction and the record it claimed."""

    atomic: Any = None
    record: IdempotencyRecord | None = None
    keep: bool = False
    sealed: bool = False

    def begin(self) -> None:
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def finish(self, response: HttpResponseBase) -> HttpResponseBase:
        """Store the answer with the request's writes and commit; roll back what is not worth keeping."""
        if self.atomic is None:
            return response
        try:
            if self.record is not None:
                if not isinstance(response, HttpResponse):
                    raise TypeError("an idempotent endpoint cannot stream its answer")
                if self.keep and response.status_code < 500:
                    self.record.status_code = response.status_code
                    self.record.content_type = response.get("Content-Type", "")
                    body = _body_of(response)
                    if self.sealed:  # an answer carrying a secret is kept encrypted, like personal data
                        body = encrypt(json.dumps(body, ensure_ascii=False))
                    self.record.response_body, self.record.sealed = body, self.sealed
                    self.record.save(update_fields=["status_code", "content_type", "response_body", "sealed"])
                else:
                    transaction.set_rollback(True)
        except BaseException:
            self.abort(*sys.exc_info())
            raise
        atomic, self.atomic = self.atomic, None
        atomic.__exit__(None, None, None)
        return response

    def abort(self, *exc_info: Any) -> None:
        if self.atomic is not None:
            atomic, self.atomic = self.atomic, None
            atomic.__exit__(*exc_info)


def _body_of(response: HttpResponse) -> Any:
    if not response.content:
        return None
    text = response.content.decode(response.charset or "utf-8")
    if "json" in response.get("Content-Type", ""):
        return json.loads(text)
    return text


def _replay(record: IdempotencyRecord) -> HttpResponse:
    body = json.loads(decrypt(str(record.response_body))) if record.sealed else record.response_body
    if body is None:
        content = ""
    elif "json" in record.content_type:
        content = json.dumps(body, ensure_ascii=False)
    else:
        content = str(body)
    response = HttpResponse(content, status=record.status_code, content_type=record.content_type or None)
    response[REPLAYED_HEADER] = "true"
    return response


@contextmanager
def _lock_wait_limit() -> Iterator[None]:
    """On PostgreSQL a second request with a key in use waits at most this long for the first to finish."""
    if connection.vendor != "postgresql":
        # SQLite takes the write lock when the transaction begins: the second request has waited already.
        yield
        return
    seconds = settings.PRAKERJA_IDEMPOTENCY_WAIT_SECONDS
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _claim(owner: str, key: str, fingerprint: str) -> tuple[IdempotencyRecord | None, HttpResponse | None]:
    """Insert the record first, so a concurrent request with the key waits on the unique index."""
    try:
        with transaction.atomic(), _lock_wait_limit():
            return IdempotencyRecord.objects.create(owner=owner, key=key, fingerprint=fingerprint), None
    except IntegrityError:
        pass
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise IdempotencyKeyInProgress() from None
        raise
    existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if existing is None or existing.status_code is None:
        raise IdempotencyKeyInProgress()
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return None, _replay(existing)


def _around_run(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wraps ninja's whole operation, so the serialised answer is stored before the transaction commits."""

    @wraps(run)
    def wrapped(request: HttpRequest, **kw: Any) -> HttpResponseBase:
        state = _Run()
        setattr(request, _STATE, state)
        try:
            response = run(request, **kw)
        except BaseException:
            state.abort(*sys.exc_info())
            raise
        return state.finish(response)

    return wrapped


def _document(operation: Operation) -> None:
    header = {
        "in": "header",
        "name": HEADER,
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "A new unique value (e.g. a UUID) per request; a retry sends the same value.",
    }
    extra = dict(operation.openapi_extra or {})
    extra["parameters"] = [*extra.get("parameters", []), header]
    operation.openapi_extra = extra


def idempotent(*, owner_of: Callable[[HttpRequest], str], sealed: bool = False) -> Callable[[ViewT], ViewT]:
    """Make a ninja write endpoint idempotent per owner and Idempotency-Key; put it under @router.post.
    `sealed` keeps the stored answer encrypted, for answers that carry a secret shown once."""

    def decorate(view: ViewT) -> ViewT:
        if inspect.iscoroutinefunction(view):
            raise TypeError("idempotent() supports synchronous views only")

        @wraps(view)
        def run_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            state: _Run | None = getattr(request, _STATE, None)
            if state is None:
                raise RuntimeError("an idempotent view runs only as a ninja operation")
            key = request.headers.get(HEADER)
            if not key:
                raise IdempotencyKeyMissing()
            if not _KEY.fullmatch(key):
                raise IdempotencyKeyInvalid()
            owner, fingerprint = owner_of(request), request_fingerprint(request)
            if not 0 < len(owner) <= 64:
                raise ValueError("owner_of() must name the client in 1 to 64 characters")
            state.begin()
            state.sealed = sealed
            record, replay = _claim(owner, key, fingerprint)
            if replay is not None:
                return replay
            state.record = record
            kept: PrakerjaError | None = None
            try:
                with transaction.atomic():
                    try:
                        result = view(request, *args, **kwargs)
                    except PrakerjaError as exc:
                        if not exc.keeps_writes:
                            raise
                        kept = exc  # e.g. a wrong code's counted attempt: the refusal must not undo it
            except PrakerjaError as exc:
                state.keep = _worth_keeping(exc)
                raise
            if kept is not None:
                state.keep = _worth_keeping(kept)
                raise kept
            state.keep = True
            return result

        # wraps() copied the view's ninja callbacks by reference; ours go on a list of this wrapper's own.
        callbacks = [*getattr(view, "_ninja_contribute_to_operation", []), _document]
        setattr(run_view, "_ninja_contribute_to_operation", callbacks)  # noqa: B010
        decorate_view(_around_run)(run_view)
        return run_view  # type: ignore[return-value]

    return decorate
