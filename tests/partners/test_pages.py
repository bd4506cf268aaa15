"""The partner pages: a platform or institution applies on the portal, the programme office screens it with
two officers, records the agreement and issues credentials, and decides on conflicts of interest."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from prakerja.accounts.models import User
from prakerja.partners import services
from prakerja.partners.models import (
    Agreement,
    ConflictOfInterest,
    ConflictStatus,
    Credential,
    Document,
    Partner,
    PartnerStatus,
    Verdict,
    VerdictStatus,
)
from prakerja.partners.rules import CRITERIA

from .conftest import PDF, apply, approve, nik, pdf

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Long-enough-77"


def member_client(partner: Partner) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(partner.members.get().user)
    return client


def text(response) -> str:
    return response.content.decode()


def signup(client: Client, kind: str, name: str, email: str) -> Partner:
    response = client.post(
        "/mitra/daftar/",
        {"kind": kind, "name": name, "email": email, "password": PASSWORD, "password_again": PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/mitra/aplikasi/"
    return Partner.objects.get(name=name)


def with_agreement(partner: Partner, officer: User) -> None:
    today = timezone.localdate()
    services.agreement_record(
        partner=partner,
        number=f"PKS-{partner.pk}",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=365),
        officer=officer,
    )


def test_a_platform_signs_up_fills_in_its_application_and_submits_it() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Create the account" in text(client.get("/mitra/daftar/"))
    base = {"kind": "platform", "name": "Belajar Pintar", "email": "ops@belajar.id"}
    differ = text(client.post("/mitra/daftar/", {**base, "password": PASSWORD, "password_again": "other"}))
    assert "The two passwords differ." in differ
    weak = text(client.post("/mitra/daftar/", {**base, "password": "short", "password_again": "short"}))
    assert "This password is too short." in weak
    assert not Partner.objects.exists()

    partner = signup(client, "platform", "Belajar Pintar", "ops@belajar.id")
    assert partner.status == PartnerStatus.DRAFT
    page = text(client.get("/mitra/aplikasi/"))
    assert "Belajar Pintar" in page and 'data-testid="missing"' in page
    assert "Declare at least one owner or shareholder." in page
    assert 'name="portal_url"' in page and 'name="it_systems"' in page
    assert 'name="accreditation"' not in page and "Trainers" not in page  # an institution's fields only
    assert "Jawa Barat".upper() in page.upper()  # the provinces to choose from

    bad = client.post(
        "/mitra/aplikasi/", {"name": "Belajar Pintar", "nib": "12-34", "portal_url": "javascript:alert(1)"}
    )
    assert bad.status_code == 200
    assert re.search(r'name="nib".*?class="error"[^>]*>The NIB must be 13 digits\.', text(bad), re.S)
    assert "Enter a web address starting with https://." in text(bad)
    saved = client.post(
        "/mitra/aplikasi/",
        {
            "name": "Belajar Pintar",
            "legal_name": "PT Belajar Pintar Indonesia",
            "legal_form": "pt",
            "deed_number": "AHU-0012345.AH.01.01",
            "deed_date": "2018-03-01",
            "nib": "9120000000001",
            "address": "Jl. Asia Afrika 1, Bandung",
            "province_code": "32",
            "portal_url": "https://belajar.example.id",
            "it_systems": "Cloud, ISO 27001",
            "national_reach": "on",
        },
    )
    assert saved.status_code == 302
    partner.refresh_from_db()
    assert partner.nib == "9120000000001" and partner.national_reach and partner.province_code == "32"

    refused = text(client.post("/mitra/aplikasi/kirim/", follow=True))
    assert "The application is not complete" in refused
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.DRAFT

    owner = {"party_kind": "person", "name": "Budi Santoso", "role": "owner", "share_percent": "60"}
    wrong = text(client.post("/mitra/aplikasi/pihak/", {**owner, "number": "3273012345"}))
    assert "The NIK is not valid." in wrong and "3273012345" not in wrong  # never written back
    assert client.post("/mitra/aplikasi/pihak/", {**owner, "number": nik(1)}).status_code == 302
    director = {"party_kind": "person", "name": "Siti Aminah", "role": "director", "number": nik(2)}
    assert client.post("/mitra/aplikasi/pihak/", director).status_code == 302
    twice = text(client.post("/mitra/aplikasi/pihak/", director))
    assert "This person or company is already declared in that role." in twice
    page = text(client.get("/mitra/aplikasi/"))
    assert "Budi Santoso" in page and nik(1) not in page and nik(2) not in page
    assert "*" * 12 + nik(1)[-4:] in page

    assert (
        client.post("/mitra/aplikasi/kerja-sama/", {"other_institutions": "LPK Sejahtera"}).status_code == 302
    )

    fake = client.post("/mitra/aplikasi/dokumen/", {"kind": "deed", "file": pdf_named("deed.pdf", b"MZ\x90")})
    assert fake.status_code == 200
    assert re.search(
        r'name="file".*?class="error"[^>]*>deed\.pdf: the file is not the kind', text(fake), re.S
    )
    for kind in ("deed", "nib", "it_systems"):
        uploaded = client.post("/mitra/aplikasi/dokumen/", {"kind": kind, "file": pdf(f"Akta {kind}.pdf")})
        assert uploaded.status_code == 302
    page = text(client.get("/mitra/aplikasi/"))
    assert "Akta deed.pdf" in page and 'data-testid="complete"' in page
    document = Document.objects.get(kind="deed")
    download = client.get(f"/mitra/dokumen/{document.pk}/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert (
        download["Content-Disposition"].startswith("attachment")
        and b"".join(download.streaming_content) == PDF
    )

    submitted = text(client.post("/mitra/aplikasi/kirim/", follow=True))
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.SUBMITTED
    assert "The application is submitted." in submitted and 'name="legal_name"' not in submitted
    assert "PT Belajar Pintar Indonesia" in submitted  # shown for reading
    assert client.post("/mitra/aplikasi/pihak/", director).status_code == 409  # no change once submitted


def pdf_named(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_an_institution_declares_its_trainers_and_sees_only_its_own_fields() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    partner = signup(client, "institution", "LPK Maju", "lpk@maju.id")
    taken = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/mitra/daftar/",
        {
            "kind": "platform",
            "name": "X",
            "email": "LPK@maju.id",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert "An account already uses this e-mail address" in text(taken)
    page = text(client.get("/mitra/aplikasi/"))
    assert (
        'name="accreditation"' in page and 'name="portal_url"' not in page and 'name="it_systems"' not in page
    )
    assert "Add at least one trainer." in page
    missing = text(client.post("/mitra/aplikasi/pelatih/", {"name": "Andi"}))
    assert "This field is required." in missing
    assert client.post("/mitra/aplikasi/pelatih/", {"name": "Andi", "competency": "Web"}).status_code == 302
    trainer = partner.trainers.get()
    assert "Add at least one trainer." not in text(client.get("/mitra/aplikasi/"))
    assert client.post(f"/mitra/aplikasi/pelatih/{trainer.pk}/hapus/").status_code == 302
    assert not partner.trainers.exists()
    from prakerja.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="partners.trainer_removed", object_id=str(partner.pk)).exists()


def test_a_member_sees_only_their_own_partner(staff_client, make_user) -> None:
    mine = apply("institution", "LPK Mine", "1100000000001", owner=41, director=42)
    theirs = apply("institution", "LPK Theirs", "1100000000002", owner=43, director=44)
    document = theirs.documents.first()
    tie = theirs.ties.first()
    client = member_client(mine)
    page = text(client.get("/mitra/aplikasi/"))
    assert "LPK Mine" in page and "LPK Theirs" not in page
    assert client.get(f"/mitra/dokumen/{document.pk}/").status_code == 404
    assert client.get("/mitra/dokumen/999999/").status_code == 404
    assert client.post(f"/mitra/aplikasi/pihak/{tie.pk}/hapus/").status_code == 404
    assert client.post(f"/mitra/aplikasi/pelatih/{theirs.trainers.get().pk}/hapus/").status_code == 404
    assert theirs.ties.count() == 2 and theirs.trainers.exists()
    assert member_client(theirs).get(f"/mitra/dokumen/{document.pk}/").status_code == 200
    for role, status in (("partnership_officer", 200), ("auditor", 200), ("finance_officer", 404)):
        assert staff_client(role).get(f"/mitra/dokumen/{document.pk}/").status_code == status
    assert Client().get(f"/mitra/dokumen/{document.pk}/")["Location"].startswith("/akun/masuk/")
    participant = Client()
    participant.force_login(make_user("participant"))
    assert participant.get("/mitra/aplikasi/").status_code == 403
    assert participant.get(f"/mitra/dokumen/{document.pk}/").status_code == 404
    assert staff_client("auditor").get("/mitra/aplikasi/").status_code == 403  # the portal acts for a partner
    employer = Client()
    employer.force_login(make_user("employer"))
    assert employer.get("/mitra/aplikasi/").status_code == 404  # acts for no platform or institution


def test_two_officers_screen_and_approve_through_the_pmo_pages(staff_client) -> None:
    institution = apply("institution", "LPK Maju", "1200000000001", owner=51, director=52)
    services.partner_submit(partner=institution, actor="test")
    maker, checker = staff_client("partnership_officer"), staff_client("partnership_officer")
    listing = text(maker.get("/pmo/mitra/?kind=institution&status=submitted"))
    assert "LPK Maju" in listing and 'data-testid="count-submitted">1<' in listing
    assert "LPK Maju" not in text(maker.get("/pmo/mitra/?status=draft"))
    url = f"/pmo/mitra/{institution.pk}/"
    page = text(maker.get(url))
    assert 'data-testid="review-start"' in page and nik(51) not in page and "PT LPK Maju" in page
    assert maker.post(f"{url}tinjau/").status_code == 302
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.IN_REVIEW and institution.review_round == 1

    no_evidence = text(
        maker.post(f"{url}penilaian/", {"criterion": "trainers", "passed": "true", "evidence": ""})
    )
    assert "Say what evidence you checked." in no_evidence
    for criterion in CRITERIA["institution"]:
        screened = maker.post(
            f"{url}penilaian/", {"criterion": criterion, "passed": "true", "evidence": f"Seen {criterion}"}
        )
        assert screened.status_code == 302
    page = text(maker.get(url))
    assert "Seen trainers" in page and page.count('data-testid="finding"><ins>') == len(
        CRITERIA["institution"]
    )

    reject = text(maker.post(f"{url}putusan/", {"approve": "false", "note": "x"}))
    assert "Every criterion passed: record which one fails to reject." in reject
    assert maker.post(f"{url}putusan/", {"approve": "true", "note": "All met"}).status_code == 302
    page = text(maker.get(url))
    assert 'data-testid="proposed"' in page and 'data-testid="screen-trainers"' not in page

    same = text(maker.post(f"{url}putusan/periksa/", {"action": "confirm"}, follow=True))
    assert "A second officer must confirm this, not the one who proposed it." in same
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.IN_REVIEW
    confirmed = text(checker.post(f"{url}putusan/periksa/", {"action": "confirm"}, follow=True))
    assert "Verdict confirmed" in confirmed
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.APPROVED
    assert Verdict.objects.get().status == VerdictStatus.CONFIRMED
    assert "partners.verdict_confirmed" in text(checker.get(url))  # the audit trail


def test_a_rejected_partner_reads_the_reason_and_reopens(officers) -> None:
    maker, checker = officers
    partner = apply("institution", "LPK Ragu", "1300000000001", owner=61, director=62)
    services.partner_submit(partner=partner, actor="test")
    services.review_start(partner=partner, officer=maker)
    for criterion in CRITERIA["institution"]:
        services.screening_record(
            partner=partner,
            criterion=criterion,
            passed=criterion != "trainers",
            evidence="x",
            note="",
            officer=maker,
        )
    verdict = services.verdict_propose(
        partner=partner, approve=False, note="No certified trainers", officer=maker
    )
    services.verdict_check(verdict=verdict, officer=checker, confirm=True)
    client = member_client(partner)
    page = text(client.get("/mitra/aplikasi/"))
    assert "No certified trainers" in page and 'data-testid="reopen"' in page
    assert client.post("/mitra/aplikasi/buka-kembali/").status_code == 302
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.DRAFT
    assert 'name="legal_name"' in text(client.get("/mitra/aplikasi/"))


def test_the_agreement_and_credentials_whose_secret_is_shown_once(officers, staff_client) -> None:
    maker, checker = officers
    platform = apply("platform", "Belajar", "1400000000001", owner=71, director=72)
    approve(platform, maker, checker)
    officer = staff_client("partnership_officer")
    url = f"/pmo/mitra/{platform.pk}/"
    today = timezone.localdate().isoformat()
    agreement = {"number": "PKS-77", "signed_on": today, "starts_on": today, "ends_on": today}
    wrong = text(officer.post(f"{url}perjanjian/", {**agreement, "commission_cap": "20"}))
    assert "The agreement must end after it starts." in wrong and "The commission cap is 0 to 15 %." in wrong
    assert re.search(
        r'name="commission_cap".*?class="error"[^>]*>The commission cap is 0 to 15 %', wrong, re.S
    )
    later = (timezone.localdate() + timedelta(days=365)).isoformat()
    assert (
        officer.post(
            f"{url}perjanjian/", {**agreement, "ends_on": later, "commission_cap": "12.5"}
        ).status_code
        == 302
    )
    assert Agreement.objects.get().commission_cap_bp == 1250
    assert "12.50 %" in text(officer.get(url))

    client = member_client(platform)
    page = text(client.get("/mitra/kredensial/"))
    assert 'data-testid="issue"' in page
    issued = client.post("/mitra/kredensial/", {"action": "issue"})
    secret = re.search(r'data-testid="secret">([^<]+)<', text(issued)).group(1)
    credential = Credential.objects.get()
    assert issued["Cache-Control"] == "no-store" and credential.client_id in text(issued)
    assert services.credential_authenticate(client_id=credential.client_id, secret=secret) == platform
    again = text(client.get("/mitra/kredensial/"))
    assert secret not in again and credential.client_id in again and 'data-testid="issue"' not in again
    assert secret not in str(dict(client.session)) and secret not in credential.secret_digest
    platform.refresh_from_db()
    assert platform.status == PartnerStatus.INTEGRATED

    rotated = client.post("/mitra/kredensial/", {"action": "rotate", "credential": credential.pk})
    new_secret = re.search(r'data-testid="secret">([^<]+)<', text(rotated)).group(1)
    assert new_secret != secret and new_secret not in text(client.get("/mitra/kredensial/"))
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    live = Credential.objects.get(revoked_at=None)
    assert officer.post(f"{url}kredensial/", {"action": "revoke", "credential": live.pk}).status_code == 302
    assert not Credential.objects.filter(revoked_at=None).exists()
    by_officer = officer.post(f"{url}kredensial/", {"action": "issue"})
    assert re.search(r'data-testid="secret">([^<]+)<', text(by_officer))
    assert 'data-testid="secret"' not in text(officer.get(url))

    other = apply("platform", "Lain", "1400000000002", owner=73, director=74)
    outsider = member_client(other)
    assert 'data-testid="not-open"' in text(outsider.get("/mitra/kredensial/"))
    assert outsider.post("/mitra/kredensial/", {"action": "issue"}).status_code == 409
    assert outsider.post("/mitra/kredensial/", {"action": "revoke", "credential": live.pk}).status_code == 409


def test_suspension_and_reinstatement(officers, staff_client) -> None:
    maker, checker = officers
    institution = apply("institution", "LPK Nakal", "1500000000001", owner=81, director=82)
    approve(institution, maker, checker)
    officer = staff_client("partnership_officer")
    url = f"/pmo/mitra/{institution.pk}/"
    assert "Give the reason." in text(officer.post(f"{url}tangguhkan/", {"reason": " "}))
    assert officer.post(f"{url}tangguhkan/", {"reason": "Fake attendance"}).status_code == 302
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.SUSPENDED
    assert "Fake attendance" in text(member_client(institution).get("/mitra/aplikasi/"))
    assert officer.post(f"{url}pulihkan/").status_code == 302
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.APPROVED


def test_the_programme_office_decides_a_conflict_of_interest(staff_client) -> None:
    tied = apply("institution", "LPK Saudara", "1600000000001", owner=91, director=92)
    platform = apply("platform", "Belajar", "1600000000003", owner=91, director=93, institutions=[])
    for partner in (tied, platform):
        services.partner_submit(partner=partner, actor="test")
    conflict = ConflictOfInterest.objects.get()
    officer, auditor = staff_client("partnership_officer"), staff_client("auditor")
    page = text(auditor.get("/pmo/mitra/konflik/"))
    assert "Belajar → Budi Santoso → LPK Saudara" in page and 'data-testid="allow"' not in page
    assert (
        auditor.post(
            "/pmo/mitra/konflik/", {"conflict": conflict.pk, "decision": "allow", "note": "x"}
        ).status_code
        == 403
    )
    assert "Belajar → Budi Santoso → LPK Saudara" in text(officer.get(f"/pmo/mitra/{tied.pk}/"))
    assert 'data-testid="flagged"' in text(officer.get("/pmo/mitra/"))
    empty = text(
        officer.post("/pmo/mitra/konflik/", {"conflict": conflict.pk, "decision": "forbid", "note": ""})
    )
    assert "Explain the decision." in empty
    decided = officer.post(
        "/pmo/mitra/konflik/",
        {"conflict": conflict.pk, "decision": "forbid", "note": "Same owner"},
        follow=True,
    )
    assert "forbidden" in text(decided) and "Same owner" in text(decided)
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.FORBIDDEN and conflict.decided_by is not None


def test_who_may_read_and_who_may_change_partners(staff_client, make_user) -> None:
    partner = apply("institution", "LPK Baca", "1700000000001", owner=95, director=96)
    services.partner_submit(partner=partner, actor="test")
    url = f"/pmo/mitra/{partner.pk}/"
    participant = Client()
    participant.force_login(make_user("participant"))
    assert participant.get("/pmo/mitra/").status_code == 403
    assert participant.post(f"{url}tinjau/").status_code == 403
    assert member_client(partner).get(url).status_code == 403  # the portal, not the programme office
    assert staff_client("finance_officer").get("/pmo/mitra/").status_code == 403
    for role in ("auditor", "me_analyst"):
        reader = staff_client(role)
        assert "LPK Baca" in text(reader.get("/pmo/mitra/"))
        page = text(reader.get(url))
        assert "LPK Baca" in page and 'data-testid="review-start"' not in page
        assert reader.get("/pmo/mitra/konflik/").status_code == 200
        assert reader.post(f"{url}tinjau/").status_code == 403
        assert reader.post(f"{url}tangguhkan/", {"reason": "x"}).status_code == 403
        assert reader.post(f"{url}kredensial/", {"action": "issue"}).status_code == 403
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.SUBMITTED
    assert "/pmo/mitra/" in text(staff_client("partnership_officer").get("/pmo/"))
    assert "/pmo/mitra/" not in text(staff_client("finance_officer").get("/pmo/"))
    home = text(member_client(partner).get("/mitra/"))
    assert "/mitra/aplikasi/" in home and "/mitra/kredensial/" in home
    assert escape("Partners") in home
