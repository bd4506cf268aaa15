"""Fewer indexes for a re-check to write. An applicant decided again under a newer rule set rewrites
`ruleset`: out of every index, that too is a HOT update on PostgreSQL. A history row goes into the primary key
and (applicant, -decided_at) only: that index already serves look-ups by applicant, and nothing looks
decisions or applicants up by rule set (rule sets are never deleted). A list entry is found by list through
the unique (list, NIK) index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_applicant_hot_updates"),
    ]

    operations = [
        migrations.AlterField(
            model_name="applicant",
            name="ruleset",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.ruleset",
            ),
        ),
        migrations.AlterField(
            model_name="eligibilitydecision",
            name="applicant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="decisions",
                to="registry.applicant",
            ),
        ),
        migrations.AlterField(
            model_name="eligibilitydecision",
            name="ruleset",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.ruleset",
            ),
        ),
        migrations.AlterField(
            model_name="exclusionentry",
            name="exclusion_list",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="entries",
                to="registry.exclusionlist",
            ),
        ),
    ]
