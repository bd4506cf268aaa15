"""In Chromium: a participant joins the open wave; anyone checks its draw on the public page."""

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from prakerja.registry.models import Applicant
from prakerja.waves import rules
from prakerja.waves.models import Card
from prakerja.waves.services import wave_announce, wave_close, wave_select
from tests.conftest import PASSWORD, reseed
from tests.waves.helpers import SEED, open_wave_with, population

pytestmark = pytest.mark.browser


@pytest.fixture
def people(transactional_db: None) -> list[Applicant]:
    """Applicants, after restoring what an earlier transactional test's flush removed."""
    reseed()
    return population(40)


def test_a_participant_joins_a_wave_and_anyone_checks_its_draw(
    page: Page, live_server: Any, people: list[Applicant], make_user: Any
) -> None:
    applicant, *others = [a for a in people if a.eligible]
    wave = open_wave_with(others)
    user = make_user("participant")
    Applicant.objects.filter(pk=applicant.pk).update(user=user)
    base = live_server.url

    page.goto(f"{base}/akun/masuk/")
    page.get_by_label("Nama pengguna").fill(user.username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Masuk").click()
    page.goto(f"{base}/pendaftaran/")
    expect(page.get_by_test_id("wave-entry-1")).to_have_count(0)
    page.get_by_test_id("join-wave").click()
    expect(page).to_have_url(f"{base}/pendaftaran/")
    expect(page.locator("article.message.success")).to_be_visible()
    expect(page.get_by_test_id("wave-entry-1")).to_be_visible()
    expect(page.get_by_test_id("join-wave")).to_have_count(0)
    assert wave.entries.filter(applicant=applicant).exists()

    page.goto(f"{base}/gelombang/1/undian/")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_test_id("commitment")).to_have_text(rules.commitment(SEED))
    expect(page.get_by_test_id("seed-hidden")).to_be_visible()
    expect(page.get_by_test_id("manifest-file")).to_have_count(0)

    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    wave_announce(wave=wave, actor="test")
    page.reload()
    expect(page.get_by_test_id("seed")).to_have_text(SEED)
    with page.expect_download() as download:
        page.get_by_test_id("manifest-file").click()
    assert download.value.suggested_filename == "wave-1-draw.json"
    manifest = json.loads(Path(download.value.path()).read_text())
    assert manifest["seed"] == SEED and manifest["commitment"] == rules.commitment(SEED)
    expect(page.get_by_test_id("selected")).to_have_text(
        str(sum(len(v) for v in manifest["selected"].values()))
    )

    page.goto(f"{base}/pendaftaran/")
    card = Card.objects.filter(applicant=applicant).first()
    if card:
        expect(page.get_by_test_id("card-number")).to_have_text(card.number)
    else:
        expect(page.get_by_test_id("waiting")).to_be_visible()
