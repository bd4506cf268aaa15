"""Five fewer indexes for every new applicant to go into. The blind indexes, the region codes and the
village are indexed by named indexes and a named unique constraint rather than db_index/unique, for which
Django also gives PostgreSQL a second, varchar_pattern_ops index (`_like`) that serves only LIKE 'prefix%'
and that no query runs on these columns. On PostgreSQL the indexes already there are renamed, and the
`_like` ones dropped, rather than built again: instant however many applicants there are."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "registry_applicant"
# column -> the name of its index (or of its unique constraint) in the new state
NAMED = {
    "nik_index": "applicant_one_per_nik",
    "kk_index": "applicant_kk_index",
    "province_code": "applicant_province",
    "regency_code": "applicant_regency",
    "village_id": "applicant_village",
}


class ExceptOnPostgresql(migrations.SeparateDatabaseAndState):
    """The operations as usual, except on PostgreSQL, where only their state changes (see rename_indexes)."""

    def __init__(self, operations: list[migrations.operations.base.Operation]) -> None:
        super().__init__(database_operations=operations, state_operations=operations)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _single_column(schema_editor) -> dict[str, dict]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, TABLE)
    return {
        name: info
        for name, info in found.items()
        if len(info["columns"]) == 1 and info["columns"][0] in NAMED and not info["foreign_key"]
    }


def rename_indexes(apps, schema_editor):
    """PostgreSQL: drop the `_like` indexes, give the others (and the unique constraint) their new names."""
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name, info in _single_column(schema_editor).items():
        new = NAMED[info["columns"][0]]
        if name.endswith("_like"):
            schema_editor.execute(f"DROP INDEX {quote(name)}")
        elif info["unique"] and not info["index"]:  # a constraint, with its index
            schema_editor.execute(
                f"ALTER TABLE {quote(TABLE)} RENAME CONSTRAINT {quote(name)} TO {quote(new)}"
            )
        elif name != new:
            schema_editor.execute(f"ALTER INDEX {quote(name)} RENAME TO {quote(new)}")


def rename_back(apps, schema_editor):
    """PostgreSQL: the names Django gives db_index and unique=True, and the `_like` indexes again."""
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for column, new in NAMED.items():
        if column == "nik_index":
            old = f"{TABLE}_{column}_key"  # PostgreSQL's name for a column's UNIQUE
            schema_editor.execute(
                f"ALTER TABLE {quote(TABLE)} RENAME CONSTRAINT {quote(new)} TO {quote(old)}"
            )
        else:
            old = schema_editor._create_index_name(TABLE, [column], suffix="")
            schema_editor.execute(f"ALTER INDEX {quote(new)} RENAME TO {quote(old)}")
        like = schema_editor._create_index_name(TABLE, [column], suffix="_like")
        schema_editor.execute(
            f"CREATE INDEX {quote(like)} ON {quote(TABLE)} ({quote(column)} varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0004_no_foreign_keys_checked_at_commit"),
    ]

    operations = [
        ExceptOnPostgresql(
            [
                migrations.AlterField(
                    model_name="applicant", name="kk_index", field=models.CharField(max_length=64)
                ),
                migrations.AlterField(
                    model_name="applicant", name="nik_index", field=models.CharField(max_length=64)
                ),
                migrations.AlterField(
                    model_name="applicant", name="province_code", field=models.CharField(max_length=2)
                ),
                migrations.AlterField(
                    model_name="applicant", name="regency_code", field=models.CharField(max_length=4)
                ),
                migrations.AlterField(
                    model_name="applicant",
                    name="village",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="regions.region",
                    ),
                ),
                migrations.AddIndex(
                    model_name="applicant",
                    index=models.Index(fields=["kk_index"], name="applicant_kk_index"),
                ),
                migrations.AddIndex(
                    model_name="applicant",
                    index=models.Index(fields=["province_code"], name="applicant_province"),
                ),
                migrations.AddIndex(
                    model_name="applicant",
                    index=models.Index(fields=["regency_code"], name="applicant_regency"),
                ),
                migrations.AddIndex(
                    model_name="applicant",
                    index=models.Index(fields=["village"], name="applicant_village"),
                ),
                migrations.AddConstraint(
                    model_name="applicant",
                    constraint=models.UniqueConstraint(fields=("nik_index",), name="applicant_one_per_nik"),
                ),
            ]
        ),
        migrations.RunPython(rename_indexes, rename_back),
    ]
