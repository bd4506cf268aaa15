"""The family card (KK blind index) of each registered person on a list of former recipients, by which the
family limit counts a family's recipients; filled for the lists already there."""

from typing import Any

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps: Any, schema_editor: Any) -> None:
    entries = apps.get_model("registry", "ExclusionEntry")
    applicants = apps.get_model("registry", "Applicant")
    entries.objects.filter(exclusion_list__kind="former_recipient").update(
        kk_index=Subquery(applicants.objects.filter(nik_index=OuterRef("nik_index")).values("kk_index")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0006_pseudonym_drawn_by_postgresql"),
    ]

    operations = [
        migrations.AddField(
            model_name="exclusionentry",
            name="kk_index",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddIndex(
            model_name="exclusionentry",
            index=models.Index(
                condition=models.Q(("kk_index__isnull", False)),
                fields=["kk_index"],
                name="exclusion_entry_kk",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
