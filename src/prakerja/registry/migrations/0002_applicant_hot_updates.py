"""Re-checks rewrite applicants in place: `eligible` leaves every index and, on PostgreSQL, pages keep
15 % free so that the new row version fits beside the old one (a HOT update, no index touched)."""

from django.db import migrations, models


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE registry_applicant SET (fillfactor = 85)")


def no_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE registry_applicant RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="applicant",
            name="registry_ap_regency_21e978_idx",
        ),
        migrations.AlterField(
            model_name="applicant",
            name="eligible",
            field=models.BooleanField(),
        ),
        migrations.RunPython(leave_room, no_room),
    ]
