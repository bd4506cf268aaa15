"""The links of an applicant (user, village, rule set) and of an eligibility decision (applicant, rule set)
lose their database-level foreign keys: PostgreSQL checks each at commit, row by row, which costs a bulk
import of a million applicants (four links a row) and a re-check writing history rows seconds per 100,000.
Django still refuses to delete what they name (PROTECT) and deletes an applicant's decisions with it;
`registry.selectors.registry_check`, part of `prakerja ledger check`, finds any link that dangles."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("regions", "0001_initial"),
        ("registry", "0003_recheck_fewer_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="applicant",
            name="ruleset",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.ruleset",
            ),
        ),
        migrations.AlterField(
            model_name="applicant",
            name="user",
            field=models.OneToOneField(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="applicant",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="applicant",
            name="village",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="regions.region",
            ),
        ),
        migrations.AlterField(
            model_name="eligibilitydecision",
            name="applicant",
            field=models.ForeignKey(
                db_constraint=False,
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
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.ruleset",
            ),
        ),
    ]
