"""In Chromium, in Indonesian (the pages' first language): a digital platform signs up, fills in its
application, declares an owner, uploads a document and sees what is still missing before it can submit."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from prakerja.partners.models import Partner, PartnerStatus
from prakerja.regions.models import Region
from prakerja.regions.services import regions_load
from tests.partners.conftest import PDF, nik

pytestmark = pytest.mark.browser

PASSWORD = "pw-Long-enough-77"


@pytest.fixture
def regions(transactional_db: None) -> None:
    """A transactional test before this one may have flushed the regions: load them again if so."""
    if not Region.objects.filter(code="3273").exists():
        regions_load()


def test_a_platform_signs_up_fills_in_its_application_and_sees_what_is_missing(
    page: Page, live_server: Any, regions: None, tmp_path: Path
) -> None:
    base = live_server.url
    page.goto(f"{base}/mitra/daftar/")
    page.locator("input[name=kind][value=platform]").check()
    page.locator("input[name=name]").fill("Belajar Pintar")
    page.locator("input[name=email]").fill("ops@belajar.id")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password_again]").fill(PASSWORD)
    page.get_by_test_id("signup").click()
    expect(page).to_have_url(f"{base}/mitra/aplikasi/")
    expect(page.get_by_test_id("status")).to_be_visible()
    expect(page.get_by_test_id("missing")).to_contain_text(
        "Nyatakan minimal satu pemilik atau pemegang saham."
    )

    page.locator("input[name=legal_name]").fill("PT Belajar Pintar Indonesia")
    page.locator("select[name=legal_form]").select_option("pt")
    page.locator("input[name=deed_number]").fill("AHU-0012345.AH.01.01")
    page.locator("input[name=nib]").fill("9120000000001")
    page.locator("select[name=province_code]").select_option("32")
    page.locator("input[name=portal_url]").fill("https://belajar.example.id")
    page.locator("textarea[name=it_systems]").fill("Cloud, ISO 27001")
    page.get_by_test_id("save").click()
    expect(page.locator("article.message.success")).to_be_visible()
    expect(page.locator("select[name=province_code]")).to_have_value("32")
    expect(page.get_by_test_id("missing")).not_to_contain_text("NIB harus terdiri atas 13 digit.")

    page.locator("input[name=party_kind][value=person]").check()
    page.locator("#ties input[name=name]").fill("Budi Santoso")
    page.locator("#ties input[name=number]").fill(nik(1))
    page.locator("#ties select[name=role]").select_option("owner")
    page.locator("#ties input[name=share_percent]").fill("60")
    page.get_by_test_id("add-tie").click()
    expect(page.get_by_test_id("ties")).to_contain_text("Budi Santoso")
    expect(page.get_by_test_id("ties")).to_contain_text(nik(1)[-4:])
    expect(page.get_by_test_id("ties")).not_to_contain_text(nik(1))
    expect(page.get_by_test_id("missing")).not_to_contain_text(
        "Nyatakan minimal satu pemilik atau pemegang saham."
    )

    deed = tmp_path / "Akta pendirian.pdf"
    deed.write_bytes(PDF)
    page.locator("select[name=kind]").select_option("deed")
    page.locator("input[name=file]").set_input_files(deed)
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("documents")).to_contain_text("Akta pendirian.pdf")

    missing = page.get_by_test_id("missing")
    expect(missing).to_contain_text("Nyatakan minimal satu direktur.")
    expect(missing).to_contain_text("Izin usaha (NIB)")  # a required document, named by its label
    expect(missing).to_contain_text("Sebutkan lembaga pelatihan yang bekerja sama dengan platform.")
    expect(missing).not_to_contain_text("belum ada: Akta pendirian")
    page.get_by_test_id("submit").click()
    expect(page.locator("article.message.error")).to_be_visible()
    assert Partner.objects.get().status == PartnerStatus.DRAFT
