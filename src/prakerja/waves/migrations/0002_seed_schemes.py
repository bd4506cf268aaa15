"""The three benefit schemes the real programme published (PRODUCT.md), so every database starts with them."""

from django.db import migrations

SCHEMES = [
    {
        "code": "semi-bansos-2020",
        "name": "Semi-bansos 2020",
        "training_balance": 1_000_000,
        "incentive_amount": 600_000,
        "incentive_instalments": 4,
        "survey_incentive": 50_000,
        "survey_count": 3,
        "purchase_deadline_days": 30,
        "note": "Semi social aid during the pandemic: Rp3,550,000 per recipient.",
    },
    {
        "code": "normal-2020",
        "name": "Skema normal (announced late 2020)",
        "training_balance": 5_000_000,
        "incentive_amount": 500_000,
        "incentive_instalments": 1,
        "survey_incentive": 0,
        "survey_count": 0,
        "purchase_deadline_days": 30,
        "note": "Training balance up to Rp5,000,000 as announced; no survey incentive.",
    },
    {
        "code": "normal-2022",
        "name": "Skema normal 2022-23",
        "training_balance": 3_500_000,
        "incentive_amount": 600_000,
        "incentive_instalments": 1,
        "survey_incentive": 50_000,
        "survey_count": 2,
        "purchase_deadline_days": 30,
        "note": "Offline and hybrid training favoured: Rp4,200,000 per recipient.",
    },
]


def seed(apps, schema_editor):
    Scheme = apps.get_model("waves", "Scheme")
    for scheme in SCHEMES:
        Scheme.objects.update_or_create(code=scheme["code"], defaults=scheme)


def unseed(apps, schema_editor):
    apps.get_model("waves", "Scheme").objects.filter(code__in=[s["code"] for s in SCHEMES]).delete()


class Migration(migrations.Migration):
    dependencies = [("waves", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
