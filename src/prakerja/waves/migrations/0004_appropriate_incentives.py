"""Waves opened before incentives were paid had only their training balances appropriated: appropriate the
rest of each scheme's benefit (incentives and survey incentives) from the state budget to the programme fund,
as opening a wave now does. One balanced journal entry per wave; nothing for waves already appropriated."""

from django.db import migrations
from django.db.models import F
from django.utils import timezone

BUDGET, FUND = "state:budget", "programme:fund"


def appropriate(apps, schema_editor):
    Wave = apps.get_model("waves", "Wave")
    Account = apps.get_model("ledger", "Account")
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    Posting = apps.get_model("ledger", "Posting")
    for wave in Wave.objects.exclude(status="draft").select_related("scheme"):
        first = JournalEntry.objects.filter(idempotency_key=f"wave:{wave.number}:appropriation").first()
        key = f"wave:{wave.number}:appropriation:incentives"
        if first is None or JournalEntry.objects.filter(idempotency_key=key).exists():
            continue
        scheme = wave.scheme
        given = first.postings.filter(account__code=FUND).values_list("amount", flat=True).first() or 0
        rest = wave.total_quota * (
            scheme.incentive_amount * scheme.incentive_instalments
            + scheme.survey_incentive * scheme.survey_count
        )
        if not rest or given != wave.total_quota * scheme.training_balance:
            continue
        budget, fund = Account.objects.get(code=BUDGET), Account.objects.get(code=FUND)
        entry = JournalEntry.objects.create(
            memo=f"Incentives of wave {wave.number} (appropriated after the wave opened)",
            idempotency_key=key,
            actor_label="system:migration",
            posted_at=timezone.now(),
        )
        Posting.objects.bulk_create(
            [
                Posting(entry=entry, account=budget, amount=-rest),
                Posting(entry=entry, account=fund, amount=rest),
            ]
        )
        Account.objects.filter(pk=budget.pk).update(balance=F("balance") - rest)
        Account.objects.filter(pk=fund.pk).update(balance=F("balance") + rest)


class Migration(migrations.Migration):
    dependencies = [("waves", "0003_waves_entries_cards"), ("ledger", "0001_initial")]
    operations = [migrations.RunPython(appropriate, migrations.RunPython.noop)]
