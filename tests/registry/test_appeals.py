from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from prakerja.core.errors import InvalidInput
from prakerja.core.models import AuditEntry, OutboxMessage
from prakerja.core.uploads import BadDocument
from prakerja.registry.models import Appeal, AppealStatus
from prakerja.registry.services import (
    AppealNotAllowed,
    AppealOpen,
    AppealWrongState,
    SameOfficer,
    appeal_approve,
    appeal_decide,
    appeal_submit,
    applicant_register,
    exclusion_list_upload,
)
from tests.registry.test_registration import CONSENTS, NIK, PROFILE, _verified

pytestmark = pytest.mark.django_db
STATEMENT = "I left university in 2023; the student list is out of date. My letter is attached."
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def student():
    applicant = applicant_register(user=_verified(), data=PROFILE, consents=CONSENTS)
    exclusion_list_upload(
        kind="student",
        source="Dikti",
        as_of=date(2026, 5, 1),
        niks=[(1, NIK)],
        actor="system:test",
        on_error=lambda *_: None,
    )
    applicant.refresh_from_db()
    assert not applicant.eligible
    return applicant


def test_only_a_failing_rule_with_a_real_statement_and_a_real_document_can_be_appealed(student) -> None:
    with pytest.raises(AppealNotAllowed):
        appeal_submit(applicant=student, rule_code="blacklist", statement=STATEMENT)
    with pytest.raises(InvalidInput):
        appeal_submit(applicant=student, rule_code="student", statement="wrong")
    with pytest.raises(BadDocument):
        appeal_submit(
            applicant=student,
            rule_code="student",
            statement=STATEMENT,
            evidence=SimpleUploadedFile("letter.pdf", b"MZ\x90\x00 not a pdf"),
        )
    appeal = appeal_submit(
        applicant=student,
        rule_code="student",
        statement=STATEMENT,
        evidence=SimpleUploadedFile("letter.pdf", PDF),
    )
    assert appeal.evidence.name.startswith("appeals/")
    with pytest.raises(AppealOpen):
        appeal_submit(applicant=student, rule_code="student", statement=STATEMENT)


def test_a_reversal_needs_a_second_officer_and_then_waives_the_rule(student, make_user) -> None:
    maker, checker = make_user("complaints_officer"), make_user("complaints_officer")
    appeal = appeal_submit(applicant=student, rule_code="student", statement=STATEMENT)
    appeal_decide(appeal=appeal, officer=maker, reverse=True, note="Graduation letter checked.")
    with pytest.raises(SameOfficer):
        appeal_approve(appeal=appeal, officer=maker, approve=True)
    appeal = appeal_approve(appeal=appeal, officer=checker, approve=True)
    assert appeal.status == AppealStatus.REVERSED
    student.refresh_from_db()
    assert student.eligible and student.reasons == ()
    with pytest.raises(AppealWrongState):
        appeal_decide(appeal=appeal, officer=maker, reverse=False, note="again")
    # A later upload of the same list keeps the reversal.
    exclusion_list_upload(
        kind="student",
        source="Dikti",
        as_of=date(2026, 9, 1),
        niks=[(1, NIK)],
        actor="system:test",
        on_error=lambda *_: None,
    )
    student.refresh_from_db()
    assert student.eligible
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"registry.appeal_submitted", "registry.appeal_decided", "registry.appeal_approved"} <= actions
    assert (
        OutboxMessage.objects.filter(subject__in=["Banding Prakerja Anda", "Your Prakerja appeal"]).count()
        >= 2
    )


def test_a_dismissed_appeal_leaves_the_rule_and_can_be_made_again(student, make_user) -> None:
    appeal = appeal_submit(applicant=student, rule_code="student", statement=STATEMENT)
    appeal_decide(
        appeal=appeal, officer=make_user("complaints_officer"), reverse=False, note="Still enrolled."
    )
    student.refresh_from_db()
    assert not student.eligible
    assert appeal_submit(applicant=student, rule_code="student", statement=STATEMENT + " New letter.").pk


def test_the_appeal_pages(student, staff_client) -> None:
    participant = Client(HTTP_ACCEPT_LANGUAGE="en")
    participant.force_login(student.user)
    assert b"/pendaftaran/banding/student/" in participant.get("/pendaftaran/").content
    sent = participant.post(
        "/pendaftaran/banding/student/",
        {"statement": STATEMENT, "evidence": SimpleUploadedFile("surat.pdf", PDF)},
    )
    assert sent["Location"] == "/pendaftaran/"
    appeal = Appeal.objects.get()
    assert participant.get(f"/pmo/banding/{appeal.pk}/bukti/").status_code == 403
    assert staff_client("finance_officer").get("/pmo/banding/").status_code == 403

    maker, checker = staff_client("complaints_officer"), staff_client("complaints_officer")
    download = maker.get(f"/pmo/banding/{appeal.pk}/bukti/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    maker.post(f"/pmo/banding/{appeal.pk}/", {"action": "reverse", "note": "Letter checked."})
    page = maker.get(f"/pmo/banding/{appeal.pk}/").content.decode()
    assert "A second officer must approve" in page
    checker.post(f"/pmo/banding/{appeal.pk}/", {"action": "approve"})
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.REVERSED
    auditor = staff_client("auditor")
    assert auditor.get(f"/pmo/banding/{appeal.pk}/").status_code == 200
    assert auditor.post(f"/pmo/banding/{appeal.pk}/", {"action": "approve"}).status_code == 403
