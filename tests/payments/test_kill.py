"""A batch whose sending process is killed (SIGKILL) part-way resumes, and nobody is paid twice.

PostgreSQL only: the sending runs in a separate process on the test database, which must see committed
data."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from prakerja.ledger.selectors import ledger_check
from prakerja.payments import services
from prakerja.payments.models import BatchStatus, Chunk, PaymentState

from .conftest import earn, verify


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the killed process needs the test database from another process: runs in the PostgreSQL pass",
)
def test_a_send_killed_with_sigkill_resumes_without_paying_anyone_twice(
    committed_cards, platform, institution, sell, start_simulator, make_user, settings, monkeypatch
) -> None:
    settings.PAYMENT_CHUNK_SIZE = 1
    simulator = start_simulator()
    accept = simulator.disburse

    def slow(*args: Any) -> Any:
        time.sleep(0.15)  # so the kill lands while chunks are still going out
        return accept(*args)

    monkeypatch.setattr(simulator, "disburse", slow)
    training = sell(price=250_000)
    for card in committed_cards[:12]:
        earn(card, platform, institution, training)
        verify(card, "ovo" if card.pk % 2 else "dana")
    services.entitlements_schedule(actor="test")
    maker, checker = make_user("finance_officer"), make_user("finance_officer")
    batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
    total = batch.chunks.count()
    assert total == 12
    database = connection.settings_dict
    env = {
        **os.environ,
        "PRAKERJA_DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "PRAKERJA_PAYMENT_PROVIDER_URL": settings.PAYMENT_PROVIDER_URL,
        "PRAKERJA_PAYMENT_CHUNK_SIZE": "1",
    }
    sender = subprocess.Popen(
        [sys.executable, "-m", "prakerja", "payouts", "send", str(batch.pk), "--user", checker.username],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while Chunk.objects.filter(batch=batch, acknowledged_at__isnull=False).count() < 3:
        assert sender.poll() is None, sender.stderr.read().decode() if sender.stderr else ""
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.02)
    sender.send_signal(signal.SIGKILL)
    sender.wait()
    batch.refresh_from_db()
    acknowledged = Chunk.objects.filter(batch=batch, acknowledged_at__isnull=False).count()
    assert batch.status == BatchStatus.SENDING and 3 <= acknowledged < total
    assert ledger_check() == []  # killed between steps: every step that committed is whole
    monkeypatch.setattr(simulator, "disburse", accept)
    result = services.batch_send(batch=batch, actor=checker)
    assert result.chunks == total - acknowledged
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SENT
    assert set(batch.payments.values_list("state", flat=True)) == {PaymentState.SENT}
    lines = [line for p in ("ovo", "dana") for line in simulator.settlement(p).splitlines()[1:]]
    paid = Counter(line.split(",")[0] for line in lines)
    assert sorted(paid) == sorted(batch.payments.values_list("key", flat=True))
    assert set(paid.values()) == {1}  # each payment exactly once at the provider
    assert ledger_check() == []
