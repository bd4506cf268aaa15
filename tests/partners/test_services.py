"""Applications, screening by two officers, agreements, credentials, suspension and conflicts of interest."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from prakerja.accounts.services import ContactTaken
from prakerja.core.audit import audit_verify
from prakerja.core.errors import Conflict, InvalidInput, NotAuthenticated
from prakerja.partners import services
from prakerja.partners.models import ConflictOfInterest, ConflictStatus, Document, PartnerStatus, Verdict
from prakerja.partners.rules import CRITERIA
from prakerja.partners.selectors import listing_problem

from .conftest import apply, approve, pdf

pytestmark = pytest.mark.django_db


def test_signup_makes_a_draft_and_its_staff_account() -> None:
    partner = services.partner_signup(
        kind="platform", name="Belajar", email="Ops@Belajar.ID", password="pw-Long-77x"
    )
    member = partner.members.get().user
    assert partner.status == PartnerStatus.DRAFT and member.role == "platform_staff"
    assert member.email == "ops@belajar.id"
    with pytest.raises(ContactTaken):
        services.partner_signup(
            kind="institution", name="Other", email="ops@belajar.id", password="pw-Long-77x"
        )


def test_an_incomplete_application_lists_everything_missing() -> None:
    partner = services.partner_signup(kind="platform", name="Belajar", email="a@b.id", password="pw-Long-77x")
    actor = partner.members.get().user
    services.partner_update(partner=partner, data={"legal_form": "cv", "nib": "1234567890123"}, actor=actor)
    with pytest.raises(InvalidInput) as caught:
        services.partner_submit(partner=partner, actor=actor)
    codes = {(p["field"], p["code"]) for p in caught.value.problems}
    assert ("legal_form", "not_pt") in codes  # a platform must be a PT
    assert {("portal_url", "missing"), ("owners", "missing"), ("directors", "missing")} <= codes
    assert ("documents", "missing") in codes and ("cooperations", "missing") in codes
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.DRAFT


def test_malformed_fields_are_refused_with_the_field_named() -> None:
    partner = services.partner_signup(kind="institution", name="LPK", email="l@b.id", password="pw-Long-77x")
    with pytest.raises(InvalidInput) as caught:
        services.partner_update(
            partner=partner, data={"nib": "12-34", "portal_url": "javascript:alert(1)"}, actor="test"
        )
    assert {p["field"] for p in caught.value.problems} == {"nib", "portal_url"}
    with pytest.raises(InvalidInput):
        services.partner_update(partner=partner, data={"status": "approved"}, actor="test")


def test_documents_must_be_what_they_claim_and_small_enough(settings) -> None:
    partner = services.partner_signup(kind="institution", name="LPK", email="l@b.id", password="pw-Long-77x")
    fake = SimpleUploadedFile("deed.pdf", b"MZ\x90\x00 an executable", content_type="application/pdf")
    with pytest.raises(InvalidInput, match="bad_document"):
        services.document_upload(partner=partner, kind="deed", upload=fake, actor="test")
    with pytest.raises(InvalidInput):
        services.document_upload(
            partner=partner, kind="deed", upload=SimpleUploadedFile("deed.exe", b"%PDF-"), actor="t"
        )
    settings.UPLOAD_MAX_BYTES = 10
    with pytest.raises(InvalidInput):
        services.document_upload(partner=partner, kind="deed", upload=pdf(), actor="test")
    assert not Document.objects.exists()
    settings.UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    document = services.document_upload(
        partner=partner, kind="deed", upload=pdf("Akta Budi 3273.pdf"), actor="test"
    )
    assert document.content_type == "application/pdf" and document.original_name == "Akta Budi 3273.pdf"
    stored = document.file.path
    assert "Budi" not in stored and str(settings.MEDIA_ROOT) in stored  # random name, outside the web root


def test_two_officers_screen_and_approve(officers) -> None:
    maker, checker = officers
    institution = apply("institution", "LPK Maju", "1000000000001", owner=1, director=2)
    services.partner_submit(partner=institution, actor="test")
    assert services.review_start(partner=institution, officer=maker) == 1
    criteria = list(CRITERIA["institution"])
    for criterion in criteria[:-1]:
        services.screening_record(
            partner=institution, criterion=criterion, passed=True, evidence="Seen", note="", officer=maker
        )
    with pytest.raises(InvalidInput, match="partner_invalid"):  # one criterion not screened yet
        services.verdict_propose(partner=institution, approve=True, note="", officer=maker)
    services.screening_record(
        partner=institution,
        criterion=criteria[-1],
        passed=False,
        evidence="No syllabus",
        note="",
        officer=maker,
    )
    with pytest.raises(InvalidInput):  # a failed criterion cannot be approved
        services.verdict_propose(partner=institution, approve=True, note="", officer=maker)
    services.screening_record(
        partner=institution,
        criterion=criteria[-1],
        passed=True,
        evidence="Syllabus sent",
        note="",
        officer=maker,
    )
    verdict = services.verdict_propose(partner=institution, approve=True, note="All met", officer=maker)
    with pytest.raises(services.SameOfficer):
        services.verdict_check(verdict=verdict, officer=maker, confirm=True)
    services.verdict_check(verdict=verdict, officer=checker, confirm=True)
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.APPROVED
    with pytest.raises(Conflict):
        services.verdict_check(verdict=verdict, officer=checker, confirm=True)
    assert audit_verify().ok


def test_a_returned_verdict_goes_back_to_review_and_a_rejection_can_be_reopened(officers) -> None:
    maker, checker = officers
    institution = apply("institution", "LPK Maju", "1000000000001", owner=1, director=2)
    services.partner_submit(partner=institution, actor="test")
    services.review_start(partner=institution, officer=maker)
    for criterion in CRITERIA["institution"]:
        services.screening_record(
            partner=institution,
            criterion=criterion,
            passed=criterion != "trainers",
            evidence="x",
            note="",
            officer=maker,
        )
    with pytest.raises(InvalidInput):  # a rejection must be explained
        services.verdict_propose(partner=institution, approve=False, note="", officer=maker)
    verdict = services.verdict_propose(
        partner=institution, approve=False, note="No certified trainers", officer=maker
    )
    services.verdict_check(verdict=verdict, officer=checker, confirm=False)
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.IN_REVIEW
    verdict = services.verdict_propose(
        partner=institution, approve=False, note="No certified trainers", officer=maker
    )
    services.verdict_check(verdict=verdict, officer=checker, confirm=True)
    institution.refresh_from_db()
    assert institution.status == PartnerStatus.REJECTED and institution.status_note == "No certified trainers"
    services.partner_reopen(partner=institution, actor="test")
    services.partner_submit(partner=institution, actor="test")
    assert services.review_start(partner=institution, officer=maker) == 2
    assert Verdict.objects.filter(partner=institution).count() == 1


def test_agreement_credentials_rotation_revocation_and_suspension(officers) -> None:
    maker, checker = officers
    platform = apply("platform", "Belajar", "2000000000001", owner=3, director=4)
    approve(platform, maker, checker)
    with pytest.raises(Conflict):  # no agreement yet
        services.credential_issue(partner=platform, officer=maker)
    today = timezone.localdate()
    with pytest.raises(InvalidInput):
        services.agreement_record(
            partner=platform,
            number="PKS-1",
            signed_on=today,
            starts_on=today,
            ends_on=today,
            commission_cap_bp=2000,
            officer=maker,
        )
    services.agreement_record(
        partner=platform,
        number="PKS-1",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=365),
        officer=maker,
    )
    platform.refresh_from_db()
    assert platform.status == PartnerStatus.AGREEMENT_SIGNED
    credential, secret = services.credential_issue(partner=platform, officer=maker)
    platform.refresh_from_db()
    assert platform.status == PartnerStatus.INTEGRATED and secret not in credential.secret_digest
    assert services.credential_authenticate(client_id=credential.client_id, secret=secret) == platform
    with pytest.raises(NotAuthenticated):
        services.credential_authenticate(client_id=credential.client_id, secret=secret + "x")
    rotated, new_secret = services.credential_rotate(credential=credential, officer=maker)
    with pytest.raises(NotAuthenticated):  # the old secret stops working at once
        services.credential_authenticate(client_id=credential.client_id, secret=secret)
    assert services.credential_authenticate(client_id=rotated.client_id, secret=new_secret) == platform
    services.partner_suspend(partner=platform, reason="Data breach under investigation", officer=maker)
    with pytest.raises(NotAuthenticated):  # a suspended partner's credentials do not work
        services.credential_authenticate(client_id=rotated.client_id, secret=new_secret)
    services.partner_reinstate(partner=platform, officer=checker)
    platform.refresh_from_db()
    assert platform.status == PartnerStatus.INTEGRATED
    services.credential_revoke(credential=rotated, officer=maker)
    with pytest.raises(NotAuthenticated):
        services.credential_authenticate(client_id=rotated.client_id, secret=new_secret)


def test_shared_owners_flag_the_pair_and_a_forbidden_pair_cannot_list(officers) -> None:
    maker, checker = officers
    tied = apply("institution", "LPK Saudara", "3000000000001", owner=5, director=6)
    free = apply("institution", "LPK Mandiri", "3000000000002", owner=7, director=8)
    platform = apply("platform", "Belajar", "3000000000003", owner=5, director=9, institutions=[tied, free])
    for partner in (tied, free, platform):
        approve(partner, maker, checker)
    today = timezone.localdate()
    services.agreement_record(
        partner=platform,
        number="PKS-9",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=30),
        officer=maker,
    )
    services.credential_issue(partner=platform, officer=maker)
    for partner in (tied, free, platform):
        partner.refresh_from_db()
    conflict = ConflictOfInterest.objects.get()
    assert (conflict.platform, conflict.institution, conflict.status) == (
        platform,
        tied,
        ConflictStatus.FLAGGED,
    )
    assert conflict.path == ["Belajar", "Budi Santoso", "LPK Saudara"]
    assert listing_problem(platform=platform, institution=free) is None
    assert listing_problem(platform=platform, institution=tied).code == "conflict:flagged"
    services.conflict_decide(conflict=conflict, allow=False, note="Same owner", officer=maker)
    assert listing_problem(platform=platform, institution=tied).code == "conflict:forbidden"
    services.conflict_decide(conflict=conflict, allow=True, note="Owner divested, deed seen", officer=checker)
    assert listing_problem(platform=platform, institution=tied) is None


def test_a_company_owning_both_links_them_through_its_nib_and_removal_unlinks(officers) -> None:
    institution = apply("institution", "LPK Anak", "4000000000001", owner=11, director=12)
    platform = apply("platform", "Induk Digital", "4000000000002", owner=13, director=14)
    # The platform declares the institution itself as an affiliated company (by the institution's NIB).
    tie = services.tie_add(
        partner=platform,
        party_kind="company",
        name="PT LPK Anak",
        number="4000000000001",
        role="affiliate",
        share_percent=None,
        actor="t",
    )
    services.partner_submit(partner=institution, actor="t")
    assert not ConflictOfInterest.objects.exists()  # a draft is not in the graph yet
    services.partner_submit(partner=platform, actor="t")
    conflict = ConflictOfInterest.objects.get()
    assert conflict.linked and conflict.path[0] == "Induk Digital" and conflict.path[-1] == "LPK Anak"
    with pytest.raises(Conflict):  # the declaration is frozen while it is screened
        services.tie_remove(tie=tie, actor="t")
    platform.refresh_from_db()
    approve(platform, *officers)
    services.tie_remove(tie=tie, actor="t")
    conflict.refresh_from_db()
    assert not conflict.linked


def test_the_same_person_is_one_node_without_the_nik_in_clear() -> None:
    from prakerja.partners.models import Party

    from .conftest import nik

    apply("institution", "LPK A", "5000000000001", owner=21, director=22)
    apply("institution", "LPK B", "5000000000002", owner=21, director=23)
    assert Party.objects.filter(name="Budi Santoso").count() == 1
    party = Party.objects.get(name="Budi Santoso")
    assert nik(21) not in party.key and party.id_hint.endswith(nik(21)[-4:]) and party.id_hint.startswith("*")
    with pytest.raises(InvalidInput):
        services.tie_add(
            partner=party.ties.first().partner,
            party_kind="person",
            name="X",
            number="1234",
            role="owner",
            share_percent=None,
            actor="t",
        )


def test_nothing_moves_a_partner_out_of_order(officers) -> None:
    maker, _checker = officers
    partner = apply("institution", "LPK", "6000000000001", owner=31, director=32)
    with pytest.raises(Conflict):
        services.review_start(partner=partner, officer=maker)  # not submitted
    with pytest.raises(Conflict):
        services.agreement_record(
            partner=partner,
            number="PKS",
            signed_on=date.today(),
            starts_on=date.today(),
            ends_on=date.today() + timedelta(days=1),
            officer=maker,
        )
    with pytest.raises(Conflict):
        services.partner_suspend(partner=partner, reason="x", officer=maker)
