"""Purchases taken through the real services up to completion, for the page and certificate tests."""

import re
import zlib
from datetime import timedelta

from django.utils import timezone

from prakerja.catalog.models import Training
from prakerja.enrolment import services
from prakerja.enrolment.models import Certificate, Purchase
from prakerja.partners.models import Partner
from prakerja.waves.models import Card

from .test_services import link


def buy(card: Card, platform: Partner, training: Training) -> Purchase:
    if not card.links.filter(platform=platform, status="confirmed").exists():
        link(card, platform)
    return services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)


def complete(purchase: Purchase, institution: Partner, hours: float = 2) -> Certificate:
    """Redeem, attend for `hours` ending now, and report completion."""
    services.voucher_redeem(institution=institution, code=purchase.voucher_code)
    now = timezone.now()
    services.attendance_report(
        institution=institution,
        code=purchase.voucher_code,
        started_at=now - timedelta(hours=hours),
        ended_at=now,
        method="online_log",
        evidence="LMS log",
    )
    return services.completion_report(institution=institution, code=purchase.voucher_code)


def pdf_text(pdf: bytes) -> bytes:
    """The PDF's bytes with every compressed stream inflated, so its page text can be searched."""
    parts = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"\n".join(parts)
