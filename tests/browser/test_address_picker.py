"""The cascading address picker on the public region-code lookup page, driven in Chromium."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from prakerja.regions.models import Region
from prakerja.regions.services import regions_load

pytestmark = pytest.mark.browser


@pytest.fixture
def regions(transactional_db: None) -> None:
    """A transactional test before this one may have flushed the regions: load them again if so."""
    if not Region.objects.filter(code="3276011006").exists():
        regions_load()


def test_picking_province_regency_district_village_shows_the_codes(
    page: Page, live_server: Any, regions: None
) -> None:
    village = Region.objects.get(code="3276011006")
    page.goto(f"{live_server.url}/wilayah/")
    page.get_by_label("Provinsi", exact=True).select_option("32")
    page.get_by_label("Kabupaten/kota", exact=True).select_option("3276")
    page.get_by_label("Kecamatan", exact=True).select_option("327601")
    page.get_by_label("Desa/kelurahan", exact=True).select_option(village.code)
    expect(page.get_by_test_id("village-code")).to_have_text(village.code)
    expect(page.get_by_test_id("postal-code")).to_have_text(village.postal_code)
    expect(page.locator("input[data-village-code]")).to_have_value(village.code)

    # Choosing another province clears the levels below it.
    page.get_by_label("Provinsi", exact=True).select_option("51")
    expect(page.get_by_label("Kecamatan", exact=True)).to_be_disabled()
    expect(page.locator("input[data-village-code]")).to_have_value("")


def test_a_given_village_code_preselects_every_level(page: Page, live_server: Any, regions: None) -> None:
    page.goto(f"{live_server.url}/wilayah/?village_code=3276011006")
    expect(page.get_by_label("Desa/kelurahan", exact=True)).to_have_value("3276011006")
    expect(page.get_by_label("Kabupaten/kota", exact=True)).to_have_value("3276")
