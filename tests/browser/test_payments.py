"""In Chromium: a participant who completed and rated a training links an e-wallet and sees the incentive
paid on their page."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from prakerja.core.money import format_rupiah
from prakerja.payments import services
from prakerja.payments.models import PayoutAccount
from tests.conftest import PASSWORD
from tests.payments.conftest import earn

pytestmark = pytest.mark.browser


def test_a_participant_links_an_e_wallet_and_sees_the_incentive_paid(
    page: Page,
    live_server: Any,
    committed_cards,
    platform,
    institution,
    sell,
    start_simulator,
    make_user,
    tmp_path,
) -> None:
    simulator = start_simulator()
    card = committed_cards[0]
    earn(card, platform, institution, sell(price=400_000))
    services.entitlements_schedule(actor="test")
    user = make_user("participant")
    card.applicant.user = user
    card.applicant.save(update_fields=["user"])
    base = live_server.url

    page.goto(f"{base}/akun/masuk/")
    page.get_by_label("Nama pengguna").fill(user.username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Masuk").click()
    page.goto(f"{base}/pendaftaran/")
    expect(page.get_by_test_id("payout-account-missing")).to_be_visible()
    page.goto(f"{base}/pendaftaran/rekening/")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    page.locator("select[name=provider]").select_option("dana")
    page.locator("input[name=number]").fill("081234567999")  # the provider knows another holder
    page.get_by_test_id("save-account").click()
    expect(page.locator("main")).to_contain_text("nama pemilik rekening")
    page.locator("select[name=provider]").select_option("dana")
    page.locator("input[name=number]").fill("081234561234")
    page.get_by_test_id("save-account").click()
    expect(page.get_by_test_id("payout-account")).to_contain_text("••••1234")
    expect(page.locator("body")).not_to_contain_text("081234561234")
    assert PayoutAccount.objects.get(applicant=card.applicant, status="verified").provider == "dana"

    maker, checker = make_user("finance_officer"), make_user("finance_officer")
    batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
    services.batch_send(batch=batch, actor=checker)
    settlement = tmp_path / "dana.csv"
    settlement.write_text(simulator.settlement("dana"))
    services.reconcile(provider="dana", path=settlement, actor=checker)
    page.goto(f"{base}/pendaftaran/")
    expect(page.get_by_test_id("benefits-received")).to_contain_text(format_rupiah(400_000 + 600_000))
