"""One index fewer for every audit entry: the hash's uniqueness as a named constraint, without the second,
varchar_pattern_ops index (`_like`) that Django gives PostgreSQL for unique=True and that only serves
LIKE 'prefix%', which nothing runs on a hash. The database keeps its table (SQLite would rebuild it and lose
its append-only trigger): on PostgreSQL the `_like` index is dropped and the constraint renamed, instantly."""

from django.db import migrations, models

TABLE = "core_auditentry"
NAME = "audit_entry_hash_unique"


def _hash_constraints(schema_editor) -> dict[str, dict]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, TABLE)
    return {name: info for name, info in found.items() if info["columns"] == ["entry_hash"]}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name, info in _hash_constraints(schema_editor).items():
        if name.endswith("_like"):
            schema_editor.execute(f"DROP INDEX {quote(name)}")
        elif info["unique"] and name != NAME:
            schema_editor.execute(
                f"ALTER TABLE {quote(TABLE)} RENAME CONSTRAINT {quote(name)} TO {quote(NAME)}"
            )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"ALTER TABLE {quote(TABLE)} RENAME CONSTRAINT {quote(NAME)} TO {quote(TABLE + '_entry_hash_key')}"
    )
    like = schema_editor._create_index_name(TABLE, ["entry_hash"], suffix="_like")
    schema_editor.execute(f"CREATE INDEX {quote(like)} ON {quote(TABLE)} (entry_hash varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [("core", "0003_idempotency_ratewindow")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry", name="entry_hash", field=models.CharField(max_length=64)
                ),
                migrations.AddConstraint(
                    model_name="auditentry",
                    constraint=models.UniqueConstraint(fields=("entry_hash",), name=NAME),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
