"""Fixed-window rate limits counted in the database, so every worker process shares one count."""

import math
import time

from django.db import connection
from django.utils.translation import gettext_lazy as _

from prakerja.core.errors import TooManyRequests
from prakerja.core.models import RateWindow


class RateLimited(TooManyRequests):
    code = "rate_limited"
    message = _(
        "Too many requests: at most %(limit)d in %(window)d seconds. Try again in %(seconds)d seconds."
    )


def _hit(key: str, window: int) -> int:
    q = connection.ops.quote_name  # "window" is a reserved word in PostgreSQL
    table, k, w, h = q(RateWindow._meta.db_table), q("key"), q("window"), q("hits")
    # One statement that both PostgreSQL and SQLite (3.35+) run atomically: no read-then-write race.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({k}, {w}, {h}) VALUES (%s, %s, 1) "  # noqa: S608 (names are ours)
            f"ON CONFLICT ({k}, {w}) DO UPDATE SET {h} = {table}.{h} + 1 RETURNING {h}",
            [key, window],
        )
        hits = int(cursor.fetchone()[0])
    if hits == 1:
        # The first hit of a new window clears the key's old windows: the table keeps one row per active key.
        RateWindow.objects.filter(key=key, window__lt=window).delete()
    return hits


def rate_limit(*, key: str, limit: int, window_seconds: int = 60) -> None:
    """Count one request for `key`; RateLimited (429, Retry-After) once `limit` are spent in the window."""
    now = time.time()
    window = int(now // window_seconds)
    if _hit(key, window) > limit:
        seconds = max(1, math.ceil((window + 1) * window_seconds - now))
        error = RateLimited(limit=limit, window=window_seconds, seconds=seconds)
        error.retry_after = seconds
        raise error
