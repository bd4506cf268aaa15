"""Registrations arriving together are written together (group commit) on real concurrent connections:
each person gets their own answer, a NIK or an account registered twice in the same batch is refused
for the second one only, and everything a registration writes is there for each applicant."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone, translation

from prakerja.accounts.models import User
from prakerja.core.audit import audit_verify
from prakerja.core.models import AuditEntry, OutboxMessage
from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.regions.models import Level, Region
from prakerja.regions.selectors import forget_cached_regions
from prakerja.registry import services
from prakerja.registry.models import Applicant, Consent, EligibilityDecision, PopulationCheck
from prakerja.registry.rules import CONSENT_VERSION
from prakerja.registry.services import AlreadyRegistered, NikAlreadyRegistered, applicant_register
from tests.conftest import reseed

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="threads each on their own connection, writing at once: runs in the PostgreSQL pass",
    ),
]
CONSENTS = ["consent", "self_declaration"]


@pytest.fixture
def people(transactional_db: None) -> Iterator[list[dict[str, str]]]:
    reseed()
    villages = [
        Region.objects.filter(level=Level.VILLAGE, rural=rural).values_list("code", "rural").first()
        for rural in (True, False)
    ]
    found = generate_people(9, villages=villages, seed=5, today=timezone.localdate())  # type: ignore[arg-type]
    yield [dict(zip(COLUMNS, person.row(), strict=True)) for person in found]
    forget_cached_regions()


def _user(n: int) -> User:
    now = timezone.now()
    return User.objects.create(
        username=f"p{n}@example.org", email=f"p{n}@example.org", phone=f"0812777{n:05d}",
        email_verified_at=now, phone_verified_at=now,
    )  # fmt: skip


def test_registrations_arriving_together_are_written_in_one_batch_each_with_its_own_answer(
    people: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    users = [_user(n) for n in range(9)]
    # (user, person): users 0-7 register persons 0-7; user 8 tries person 0's NIK; user 7 tries again, as
    # person 8.
    work = [(users[n], people[n]) for n in range(8)] + [(users[8], people[0]), (users[7], people[8])]
    group = services._registrations
    batches: list[int] = []
    first_started, release = threading.Event(), threading.Event()
    write = group._write

    def held(items: list[Any]) -> Any:
        batches.append(len(items))
        if len(batches) == 1:  # the first write waits until every other registration queues behind it
            first_started.set()
            release.wait(10)
        return write(items)

    monkeypatch.setattr(group, "_write", held)
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        user, person = work[i]
        translation.activate("en" if i == 3 else "id")  # person 3 registers in English: written to in English
        try:
            results[i] = applicant_register(user=user, data=person, consents=CONSENTS, source="api")
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    settings.REGISTRATION_CONCURRENCY = len(work)  # every registration gets in: none is shed
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    threads[0].start()
    assert first_started.wait(10)
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while group.waiting < len(work) - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join(20)

    assert batches[:2] == [1, len(work) - 1]
    refused = {i: type(r) for i, r in enumerate(results) if not isinstance(r, Applicant)}
    assert refused == {8: NikAlreadyRegistered, 9: AlreadyRegistered} or refused == {
        # which of user 7's two requests came first depends on the queue's order
        8: NikAlreadyRegistered,
        7: AlreadyRegistered,
    }
    stored = {a.user_id: a for a in Applicant.objects.all()}
    assert set(stored) == {u.pk for u in users[:8]}
    for i, result in enumerate(results):
        if isinstance(result, Applicant):
            row = stored[result.user_id]
            assert (row.pk, row.pseudonym) == (result.pk, result.pseudonym)
            assert row.nik == result.nik == work[i][1]["nik"]
            assert (row.kk, row.full_name, row.email) == (
                work[i][1]["kk"],
                work[i][1]["full_name"],
                work[i][0].email,
            )
            assert (row.eligible, row.failing_rules, row.source) == (
                result.eligible,
                result.failing_rules,
                "api",
            )
    for applicant in stored.values():
        decision = EligibilityDecision.objects.get(applicant=applicant, cause="registration")
        assert (decision.failing_rules, decision.ruleset_id) == (
            applicant.failing_rules,
            applicant.ruleset_id,
        )
        check = PopulationCheck.objects.get(applicant=applicant)
        assert check.status in {"match", "mismatch", "not_found"} and check.reference.startswith("FAKE-")
        assert isinstance(check.mismatched, list) and applicant.citizen == check.citizen
        consents = Consent.objects.filter(applicant=applicant)
        assert sorted(c.kind for c in consents) == CONSENTS
        assert {c.text_version for c in consents} == {CONSENT_VERSION}
    registered = AuditEntry.objects.filter(action="registry.registered")
    assert sorted(int(e.object_id) for e in registered) == sorted(a.pk for a in stored.values())
    assert audit_verify().ok
    subjects = {m.recipient: m.subject for m in OutboxMessage.objects.all()}
    assert sorted(subjects) == [u.email for u in users[:8]]
    assert subjects.pop(users[3].email) == "Prakerja registration"
    assert set(subjects.values()) == {"Pendaftaran Prakerja"}
