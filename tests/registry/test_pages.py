import csv
from datetime import date

import pytest
from django.core.management import call_command
from django.test import Client

from prakerja.core.models import AuditEntry
from prakerja.registry.models import Applicant
from prakerja.registry.selectors import applicant_by_nik
from prakerja.registry.services import exclusion_list_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def niks(tmp_path) -> list[str]:
    path = tmp_path / "people.csv"
    call_command("people", "generate", "30", "--out", str(path), "--seed", "21")
    call_command("applicants", "import", str(path))
    niks = [row["nik"] for row in csv.DictReader(path.open())]
    exclusion_list_upload(
        kind="student",
        source="Dikti",
        as_of=date(2026, 5, 1),
        niks=[(1, niks[0])],
        actor="system:test",
        on_error=lambda *_: None,
    )
    return niks


def test_only_programme_office_roles_see_applicants(make_user, staff_client, niks) -> None:
    participant = Client()
    participant.force_login(make_user("participant"))
    assert participant.get("/pmo/pendaftar/").status_code == 403
    applicant = applicant_by_nik(niks[0])
    assert participant.get(f"/pmo/pendaftar/{applicant.pk}/").status_code == 403
    assert staff_client("finance_officer").get("/pmo/pendaftar/").status_code == 403
    assert staff_client("auditor").get("/pmo/pendaftar/").status_code == 200
    assert staff_client("selection_officer").get("/pmo/pendaftar/").status_code == 200


def test_find_by_nik_posts_the_number_and_redirects_to_the_record(staff_client, niks) -> None:
    client = staff_client("complaints_officer")
    response = client.post("/pmo/pendaftar/", {"nik": niks[3]})
    applicant = applicant_by_nik(niks[3])
    assert response.status_code == 302
    assert response["Location"] == f"/pmo/pendaftar/{applicant.pk}/"
    assert niks[3] not in response["Location"]
    unknown = client.post("/pmo/pendaftar/", {"nik": "3276014501990003"}).content.decode()
    assert "No applicant has this NIK." in unknown
    assert "A NIK has exactly 16 digits." in client.post("/pmo/pendaftar/", {"nik": "123"}).content.decode()


def test_applicant_page_masks_the_nik_lists_reasons_and_is_audited(staff_client, niks) -> None:
    client = staff_client("pmo_admin")
    applicant = applicant_by_nik(niks[0])
    page = client.get(f"/pmo/pendaftar/{applicant.pk}/").content.decode()
    assert niks[0] not in page
    assert f"************{niks[0][-4:]}" in page
    assert "People in formal education cannot receive the programme." in page
    assert AuditEntry.objects.filter(action="registry.applicant_viewed", object_id=str(applicant.pk)).exists()


def test_search_filters_and_counts(staff_client, niks) -> None:
    client = staff_client("me_analyst")
    name = Applicant.objects.order_by("id").first().full_name
    assert name in client.get("/pmo/pendaftar/", {"name": name.split()[0]}).content.decode()
    not_eligible = client.get("/pmo/pendaftar/", {"eligible": "no"}).content.decode()
    assert "1 applicant" in not_eligible
    counts = client.get("/pmo/pendaftar/ringkasan/").content.decode()
    assert "student" in counts
    assert "People in formal education cannot receive the programme." in counts


def test_a_complaints_officer_asks_the_population_registry_again(staff_client, niks) -> None:
    applicant = applicant_by_nik(niks[2])
    officer = staff_client("complaints_officer")
    page = officer.post(f"/pmo/pendaftar/{applicant.pk}/", follow=True).content.decode()
    assert "Population registry answered" in page
    assert applicant.population_checks.count() == 1
    assert staff_client("auditor").post(f"/pmo/pendaftar/{applicant.pk}/").status_code == 403
    assert applicant.population_checks.count() == 1


def test_the_applicant_count_is_grouped_by_thousands(staff_client, niks, monkeypatch) -> None:
    from django.core.paginator import Paginator

    monkeypatch.setattr(Paginator, "count", 12_345)  # as if there were that many; the page shows the first 30
    english = staff_client("auditor")
    assert "12,345 applicants" in english.get("/pmo/pendaftar/").content.decode()
    english.cookies["django_language"] = "id"
    assert "12.345 pendaftar" in english.get("/pmo/pendaftar/").content.decode()
