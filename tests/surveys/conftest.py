"""Card holders who completed a training through the real enrolment services, for the survey tests."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from prakerja.enrolment.models import Purchase
from prakerja.partners.models import Partner
from prakerja.waves.models import Card
from tests.enrolment.conftest import cards, institution, platform, sell  # noqa: F401
from tests.enrolment.helpers import buy, complete

ANSWERS = {
    "employment": "working",
    "income": "1m_3m",
    "competence": "4",
    "training_relevant": "yes",
    "satisfaction": "5",
}


@pytest.fixture
def finish(
    platform: Partner,  # noqa: F811 (the fixtures imported above)
    institution: Partner,  # noqa: F811
    sell: Callable[..., Any],  # noqa: F811
) -> Callable[..., Purchase]:
    """`finish(card, days_ago=0)`: the card holder completes a training, `days_ago` days before now."""
    first = sell()

    def make(card: Card, days_ago: int = 0, training: Any = None) -> Purchase:
        purchase = buy(card, platform, training or first)
        complete(purchase, institution)
        Purchase.objects.filter(pk=purchase.pk).update(completed_at=timezone.now() - timedelta(days=days_ago))
        purchase.refresh_from_db()
        return purchase

    return make
