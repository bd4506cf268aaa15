"""The certificate PDF for its own participant, and the public verification page: valid for a real
certificate, invalid for an unknown code or altered data, and never the full name or the NIK."""

import base64
import re

import pytest
from django.test import Client

from prakerja.enrolment import selectors, services
from prakerja.enrolment.models import Certificate
from prakerja.registry.models import Applicant
from tests.waves.helpers import participant

from .helpers import buy, complete, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(cards, platform, institution, sell) -> Certificate:
    return complete(buy(cards[0], platform, sell()), institution)


def test_names_are_masked_enough_to_recognise_not_to_identify() -> None:
    assert selectors.mask_name("Siti Rahmawati") == "Siti R********"
    assert selectors.mask_name("  Made  Ayu Lestari ") == "Made A** L******"
    assert selectors.mask_name("Sukarno") == "S******"  # one word: the mask alone would not hide it
    assert selectors.mask_name("") == ""


def test_the_participant_downloads_a_pdf_with_the_code_and_the_verify_link(
    certificate, cards, make_user, settings
) -> None:
    settings.PRAKERJA_PUBLIC_URL = "https://prakerja.example/"
    client = participant(cards[0].applicant, make_user)
    response = client.get(f"/pendaftaran/sertifikat/{certificate.code}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    url = f"https://prakerja.example/verify/{certificate.code}/".encode()
    assert certificate.code.encode() in text
    assert url in text  # printed, and the QR code and the printed address link to it
    assert b"/URI (" + url + b")" in pdf
    assert certificate.signature.encode() in text
    assert cards[0].applicant.full_name.encode("latin-1", "replace") in text
    width, height = (float(n) for n in re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf).groups())
    assert width > height  # landscape
    for x, y in re.findall(rb"([\d.]+) ([\d.]+) Td", text):  # every line of text starts on the page
        assert 0 < float(x) < width and 0 < float(y) < height


def test_only_the_certificates_own_participant_may_download_it(certificate, cards, make_user) -> None:
    url = f"/pendaftaran/sertifikat/{certificate.code}.pdf"
    anonymous = Client()
    assert anonymous.get(url).status_code == 302  # to the login page
    other = participant(cards[1].applicant, make_user)
    assert other.get(url).status_code == 404
    assert other.get("/pendaftaran/sertifikat/ZZZZZZZZZZZZ.pdf").status_code == 404


def test_names_in_any_script_print_and_still_verify(cards, platform, institution, sell) -> None:
    name = "Nguyễn Thị Ánh Ṣalāḥ 王小明 Ōtsuka “Budi”"
    Applicant.objects.filter(pk=cards[0].applicant_id).update(full_name=name)
    certificate = complete(buy(cards[0], platform, sell()), institution)
    pdf = selectors.certificate_pdf(Certificate.objects.get(pk=certificate.pk))
    assert pdf.startswith(b"%PDF") and b"Nguyen Thi" in pdf_text(pdf)
    check = selectors.certificate_verify(certificate.code)
    assert check.valid and check.masked_name.startswith("Nguyễn T**")


def test_the_public_page_confirms_a_real_certificate_without_revealing_the_person(certificate, cards) -> None:
    applicant = cards[0].applicant
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/verify/{certificate.code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-valid="yes"' in page and "Valid:" in page
    assert selectors.mask_name(applicant.full_name) in page
    assert applicant.full_name not in page
    assert applicant.nik not in page
    assert "Pemasaran Digital untuk UMKM" in page and "LPK Maju" in page
    assert services.public_key_b64() in page
    # A code typed by a person, in lower case with a dash, is the same code.
    typed = certificate.code[:4].lower() + "-" + certificate.code[4:]
    assert 'data-valid="yes"' in Client().get(f"/verify/{typed}/").content.decode()


def test_an_unknown_code_is_not_valid() -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/verify/ZZZZZZZZZZZZ/")
    assert response.status_code == 404
    assert 'data-valid="no"' in response.content.decode()
    assert not selectors.certificate_verify("ZZZZZZZZZZZZ").valid


def test_altered_data_or_signature_is_not_valid(certificate, cards) -> None:
    assert selectors.certificate_verify(certificate.code).valid
    original = certificate.holder_name
    Certificate.objects.filter(pk=certificate.pk).update(holder_name=original + "x")
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/verify/{certificate.code}/")
    assert response.status_code == 200 and 'data-valid="no"' in response.content.decode()
    Certificate.objects.filter(pk=certificate.pk).update(holder_name=original)
    assert selectors.certificate_verify(certificate.code).valid
    # A name corrected in the registry after completion does not void a genuine certificate.
    Applicant.objects.filter(pk=cards[0].applicant_id).update(full_name=original + " Putri")
    assert selectors.certificate_verify(certificate.code).valid

    raw = bytearray(base64.b64decode(certificate.signature))
    raw[0] ^= 1
    Certificate.objects.filter(pk=certificate.pk).update(signature=base64.b64encode(bytes(raw)).decode())
    assert not selectors.certificate_verify(certificate.code).valid
    Certificate.objects.filter(pk=certificate.pk).update(signature="not base64 at all!")
    check = selectors.certificate_verify(certificate.code)
    assert check.found and not check.valid


def test_the_public_key_is_published_as_plain_text() -> None:
    response = Client().get("/verify/kunci-publik/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert response.content.decode().strip() == services.public_key_b64()
    assert len(base64.b64decode(services.public_key_b64())) == 32
