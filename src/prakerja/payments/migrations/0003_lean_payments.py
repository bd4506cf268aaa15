"""Payments and entitlements are written by the million and updated two or three times each: no index on a
column that changes (not even in an index's condition), so on PostgreSQL an update stays on its page (HOT) and
touches no index, pages stored with room for it; no database-level foreign keys on payments (each was checked
once per row at commit, locking the row it names); the batch is the chunk's. Chunks record when they are
settled."""

import django.db.models.deletion
from django.db import migrations, models


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE payments_payment SET (fillfactor = 50)")
        schema_editor.execute("ALTER TABLE payments_entitlement SET (fillfactor = 50)")


def no_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE payments_payment RESET (fillfactor)")
        schema_editor.execute("ALTER TABLE payments_entitlement RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
        ("payments", "0002_fewer_indexes"),
        ("registry", "0003_recheck_fewer_indexes"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="payment",
            name="one_live_payment_per_entitlement",
        ),
        migrations.RemoveIndex(
            model_name="entitlement",
            name="entitlement_owed_due",
        ),
        migrations.RemoveIndex(
            model_name="payment",
            name="payment_open",
        ),
        migrations.RemoveField(
            model_name="payment",
            name="batch",
        ),
        migrations.AddField(
            model_name="chunk",
            name="settled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="entitlement",
            name="applicant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entitlements",
                to="registry.applicant",
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to="payments.payoutaccount",
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="chunk",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to="payments.chunk",
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="entitlement",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to="payments.entitlement",
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="settled_entry",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="ledger.journalentry",
            ),
        ),
        migrations.RunPython(leave_room, no_room),
    ]
