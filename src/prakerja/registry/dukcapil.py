"""The national population registry (Dukcapil) behind an adapter: the real service is outside the project.

Request and response shape (see docs/dukcapil.md): the adapter sends the NIK, KK, full name and birth
date of one person and receives whether the NIK exists, whether the submitted fields match the
registry's record (field by field, never the record itself), and whether the person is a citizen.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PopulationQuery:
    nik: str
    kk: str
    full_name: str
    birth_date: date


@dataclass(frozen=True)
class PopulationAnswer:
    status: str  # "match", "mismatch", "not_found" or "unavailable"
    citizen: bool | None = None
    mismatched: tuple[str, ...] = field(default_factory=tuple)  # names of fields that differ
    reference: str = ""  # the registry's transaction id, kept for audit


class PopulationRegistry(Protocol):
    def verify(self, query: PopulationQuery) -> PopulationAnswer: ...


class FakePopulationRegistry:
    """Deterministic stand-in for tests and the demo, decided by a digest of the NIK:
    about 1 % not found, 0.5 % foreign residents (a NIK but not a citizen), the rest matching;
    a NIK whose serial is 9990-9999 gives a mismatch of the KK."""

    def verify(self, query: PopulationQuery) -> PopulationAnswer:
        bucket = int(hashlib.sha256(query.nik.encode()).hexdigest()[:8], 16) % 1000
        reference = "FAKE-" + hashlib.sha256(b"ref" + query.nik.encode()).hexdigest()[:12]
        if bucket < 10:
            return PopulationAnswer("not_found", reference=reference)
        if query.nik[12:] >= "9990":
            return PopulationAnswer("mismatch", citizen=True, mismatched=("kk",), reference=reference)
        return PopulationAnswer("match", citizen=bucket >= 15, reference=reference)


def population_registry() -> PopulationRegistry:
    registry: PopulationRegistry = import_string(settings.POPULATION_REGISTRY)()
    return registry
