import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from prakerja.core.audit import GENESIS, audit_record, audit_verify
from prakerja.core.models import AppendOnlyError, AuditEntry

pytestmark = pytest.mark.django_db
TABLE = AuditEntry._meta.db_table


def _tamper(sql: str, params: list[object]) -> None:
    """Act as someone with database rights: lift the append-only trigger, then rewrite history."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks may be pending for ALTER
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER core_auditentry_append_only")
        else:
            cursor.execute("DROP TRIGGER core_auditentry_no_update")
        cursor.execute(sql, params)


def _three_entries(user: object) -> list[AuditEntry]:
    return [
        audit_record(actor=user, action="test.create", object_type="x", object_id="1", after={"a": 1}),
        audit_record(
            actor="system:test",
            action="test.change",
            object_type="x",
            object_id="1",
            before={"a": 1},
            after={"a": 2, "nested": {"b": [1, 2]}},
        ),
        audit_record(actor=user, action="test.delete", object_type="x", object_id="1", before={"a": 2}),
    ]


def test_entries_chain_and_verify(make_user) -> None:
    entries = _three_entries(make_user())
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[2].prev_hash == entries[1].entry_hash
    assert AuditEntry.objects.order_by("id").first().prev_hash == GENESIS
    report = audit_verify()
    assert report.ok
    assert report.checked == AuditEntry.objects.count()


def test_changed_content_is_detected(make_user) -> None:
    entries = _three_entries(make_user())
    _tamper(
        f"UPDATE {TABLE} SET after = %s WHERE id = %s", ['{"a": 3, "nested": {"b": [1, 2]}}', entries[1].id]
    )
    report = audit_verify()
    assert not report.ok
    assert report.broken_id == entries[1].id
    assert "hash" in report.reason


def test_deleted_entry_is_detected(make_user) -> None:
    entries = _three_entries(make_user())
    _tamper(f"DELETE FROM {TABLE} WHERE id = %s", [entries[1].id])
    report = audit_verify()
    assert not report.ok
    assert report.broken_id == entries[2].id


def test_rewritten_hash_still_breaks_the_next_link(make_user) -> None:
    entries = _three_entries(make_user())
    _tamper(f"UPDATE {TABLE} SET entry_hash = %s WHERE id = %s", ["f" * 64, entries[0].id])
    report = audit_verify()
    assert not report.ok
    assert report.broken_id == entries[0].id


def test_entries_cannot_be_changed_or_deleted_through_the_orm(make_user) -> None:
    entry = _three_entries(make_user())[0]
    entry.action = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_the_database_refuses_to_rewrite_entries(make_user) -> None:
    entry = _three_entries(make_user())[0]
    statements = [f"UPDATE {TABLE} SET action = 'x' WHERE id = %s"]
    if connection.vendor == "postgresql":
        statements.append(f"DELETE FROM {TABLE} WHERE id = %s")
    for statement in statements:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [entry.id])
    assert audit_verify().ok


def test_audit_verify_command_exits_non_zero_when_broken(make_user, capsys) -> None:
    entries = _three_entries(make_user())
    call_command("audit", "verify")
    assert "intact" in capsys.readouterr().out
    _tamper(f"UPDATE {TABLE} SET action = 'x' WHERE id = %s", [entries[2].id])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    assert f"BROKEN at entry {entries[2].id}" in capsys.readouterr().err


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="only PostgreSQL gets varchar_pattern_ops (`_like`) indexes: runs in the PostgreSQL pass",
)
@pytest.mark.django_db
def test_an_entry_hash_is_unique_without_an_index_for_like_queries() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [AuditEntry._meta.db_table])
        hashed = [d for (d,) in cursor.fetchall() if "(entry_hash" in d]
    assert len(hashed) == 1 and "UNIQUE" in hashed[0]
    first = audit_record(actor="system:test", action="a", object_type="x", object_id="1")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    at=first.at,
                    actor_label="x",
                    prev_hash=first.entry_hash,
                    entry_hash=first.entry_hash,
                    action="b",
                )
            ]
        )
