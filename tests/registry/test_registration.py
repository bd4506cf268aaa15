import re

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.accounts.models import User
from prakerja.accounts.services import ContactTaken, participant_signup
from prakerja.core.errors import InvalidInput
from prakerja.core.models import OutboxMessage
from prakerja.registry.models import Applicant, Consent, EligibilityDecision, PopulationCheck
from prakerja.registry.services import (
    AlreadyRegistered,
    ConsentRequired,
    ContactsNotVerified,
    NikAlreadyRegistered,
    applicant_register,
    population_check_run,
)

pytestmark = pytest.mark.django_db
NIK, KK = "3276014501990003", "3276011503150007"
PROFILE = {
    "nik": NIK,
    "kk": KK,
    "full_name": "Siti Rahmawati",
    "birth_date": "1999-01-05",
    "sex": "P",
    "village_code": "3276011006",
    "rural": "false",
    "education": "sma",
    "employment_status": "laid_off",
    "disability": "false",
}
CONSENTS = ["consent", "self_declaration"]


def _verified(email: str = "siti@example.org", phone: str = "081234500001") -> User:
    user = participant_signup(email=email, phone=phone, password="a-good-long-pass-1")
    user.email_verified_at = user.phone_verified_at = timezone.now()
    user.save()
    return user


def test_signup_sends_both_codes_and_refuses_a_taken_contact() -> None:
    user = participant_signup(
        email="Budi@Example.org", phone="+62 812-3450-0002", password="a-good-long-pass-1"
    )
    assert user.username == "budi@example.org" and user.phone == "081234500002"
    assert sorted(m.channel for m in OutboxMessage.objects.all()) == ["email", "sms"]
    with pytest.raises(ContactTaken):
        participant_signup(email="other@example.org", phone="081234500002", password="a-good-long-pass-1")
    with pytest.raises(InvalidInput) as bad:
        participant_signup(email="not-an-email", phone="12", password="short")
    assert {p["field"] for p in bad.value.problems} == {"email", "phone", "password"}


def test_registration_stores_the_person_once_with_decision_consent_and_population_check() -> None:
    user = _verified()
    applicant = applicant_register(user=user, data=PROFILE, consents=CONSENTS)
    assert applicant.eligible and applicant.nik == NIK and applicant.user == user
    assert EligibilityDecision.objects.get(applicant=applicant).cause == "registration"
    assert {c.kind for c in Consent.objects.filter(applicant=applicant)} == set(CONSENTS)
    assert PopulationCheck.objects.get(applicant=applicant).status in {"match", "mismatch", "not_found"}
    assert OutboxMessage.objects.filter(subject__icontains="Prakerja").exists()
    with pytest.raises(AlreadyRegistered):
        applicant_register(user=user, data=PROFILE, consents=CONSENTS)
    other = _verified("dewi@example.org", "081234500003")
    with pytest.raises(NikAlreadyRegistered) as taken:
        applicant_register(user=other, data=PROFILE, consents=CONSENTS)
    assert "Siti" not in taken.value.detail and "siti@" not in taken.value.detail
    assert Applicant.objects.count() == 1


def test_a_batch_of_registrations_keeps_each_ones_own_source_and_person() -> None:
    """Pages and the API share batches: each applicant of a batch is stored with its own channel."""
    from prakerja.registry.services import _registration_read, _registrations_write

    other = {**PROFILE, "nik": "3276014501990011", "full_name": "Dewi Lestari"}
    batch = [
        _registration_read(user=_verified(), data=PROFILE, consents=CONSENTS, source="web"),
        _registration_read(
            user=_verified("dewi@example.org", "081234500003"), data=other, consents=CONSENTS, source="api"
        ),
    ]
    written = _registrations_write(batch)
    assert all(isinstance(a, Applicant) for a in written)
    stored = {a.nik: a for a in Applicant.objects.all()}
    assert {nik: a.source for nik, a in stored.items()} == {NIK: "web", "3276014501990011": "api"}
    assert [stored[NIK].pk, stored["3276014501990011"].pk] == [a.pk for a in written]
    assert stored["3276014501990011"].full_name == "Dewi Lestari"


def test_registration_needs_verified_contacts_and_both_consents() -> None:
    user = participant_signup(email="a@example.org", phone="081234500004", password="a-good-long-pass-1")
    with pytest.raises(ContactsNotVerified):
        applicant_register(user=user, data=PROFILE, consents=CONSENTS)
    user = _verified("b@example.org", "081234500005")
    with pytest.raises(ConsentRequired):
        applicant_register(user=user, data=PROFILE, consents=["consent"])
    assert Applicant.objects.count() == 0


def test_every_field_that_disagrees_with_the_nik_is_named() -> None:
    user = _verified()
    with pytest.raises(InvalidInput) as error:
        applicant_register(
            user=user,
            data={**PROFILE, "birth_date": "1999-01-06", "sex": "L", "village_code": "3276021001"},
            consents=CONSENTS,
        )
    fields = {(p["field"], p["code"]) for p in error.value.problems}
    assert ("birth_date", "disagrees_with_nik") in fields and ("sex", "disagrees_with_nik") in fields
    assert any(p["field"] == "village_code" for p in error.value.problems)
    assert Applicant.objects.count() == 0


def test_population_check_can_be_run_again_and_a_foreigner_is_not_eligible(settings) -> None:
    user = _verified()
    applicant = applicant_register(user=user, data=PROFILE, consents=CONSENTS)
    settings.POPULATION_REGISTRY = "tests.registry.test_registration.ForeignResident"
    population_check_run(applicant=applicant, actor="system:test")
    applicant.refresh_from_db()
    assert applicant.citizen is False and applicant.eligible is False
    assert [r.code for r in applicant.reasons] == ["not_citizen"]
    assert PopulationCheck.objects.filter(applicant=applicant).count() == 2


class ForeignResident:
    def verify(self, query):
        from prakerja.registry.dukcapil import PopulationAnswer

        return PopulationAnswer("match", citizen=False, reference="T-1")


def test_the_whole_journey_through_the_pages() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(
        "/daftar/",
        {
            "email": "rina@example.org",
            "phone": "081234500009",
            "password": "a-good-long-pass-1",
            "password_again": "a-good-long-pass-1",
        },
    )
    assert response.status_code == 302 and response["Location"].startswith("/akun/verifikasi/")
    assert client.get("/daftar/profil/")["Location"].startswith("/akun/verifikasi/")
    for purpose, channel in (("verify_email", "email"), ("verify_phone", "sms")):
        body = OutboxMessage.objects.filter(channel=channel).order_by("-id").first().body
        code = re.search(r"\b(\d{6})\b", body).group(1)
        client.post(
            "/akun/verifikasi/?next=/daftar/profil/", {"purpose": purpose, "check": "1", "code": code}
        )
    assert b"Continue" in client.get("/akun/verifikasi/?next=/daftar/profil/").content
    page = client.post("/daftar/profil/", {**PROFILE, "sex": "L", "consent": "on", "self_declaration": "on"})
    assert page.status_code == 200
    assert "does not match the NIK" in page.content.decode()
    done = client.post("/daftar/profil/", {**PROFILE, "consent": "on", "self_declaration": "on"}, follow=True)
    assert done.redirect_chain[-1][0] == "/pendaftaran/"
    assert b"You are eligible" in done.content
    assert NIK.encode() not in done.content


def test_the_same_journey_through_the_json_api() -> None:
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    signup = client.post(
        "/api/v1/accounts/signup",
        {"email": "tono@example.org", "phone": "081234500010", "password": "a-good-long-pass-1"},
        content_type="application/json",
    )
    assert signup.status_code == 201 and signup.json()["email_verified"] is False
    csrf = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if "csrftoken" in client.cookies else {}
    for purpose, channel in (("verify_email", "email"), ("verify_phone", "sms")):
        code = re.search(
            r"\b(\d{6})\b", OutboxMessage.objects.filter(channel=channel).order_by("-id")[0].body
        )[1]
        verified = client.post(
            "/api/v1/accounts/verify",
            {"purpose": purpose, "code": code},
            content_type="application/json",
            **csrf,
        )
        assert verified.status_code == 200, verified.content
    body = {**PROFILE, "rural": False, "disability": False, "consents": CONSENTS}
    wrong = client.post(
        "/api/v1/registry/registrations", {**body, "sex": "L"}, content_type="application/json", **csrf
    )
    assert wrong.status_code == 422
    assert ("sex", "disagrees_with_nik") in {(p["field"], p["code"]) for p in wrong.json()["problems"]}
    created = client.post("/api/v1/registry/registrations", body, content_type="application/json", **csrf)
    assert created.status_code == 201
    assert created.json()["nik"] == "************0003" and created.json()["eligible"] is True
    again = client.post("/api/v1/registry/registrations", body, content_type="application/json", **csrf)
    assert again.status_code == 409
    assert client.get("/api/v1/registry/registrations/me").json()["full_name"] == PROFILE["full_name"]
    assert Client().get("/api/v1/registry/registrations/me").status_code == 401


def test_registrations_beyond_the_concurrency_limit_are_told_to_retry(caplog) -> None:
    """Load shedding: when every registration place of the process is taken, the API answers 503 with
    Retry-After at once instead of queueing (logged at INFO, not as a server error); once a place frees up,
    the same request succeeds."""
    from django.conf import settings as live

    from prakerja.core.overload import _gate

    user = _verified()
    client = Client()
    client.force_login(user)
    body = {**PROFILE, "rural": False, "disability": False, "consents": CONSENTS}
    caplog.set_level("INFO")
    gate = _gate("registration", live.REGISTRATION_CONCURRENCY)
    held = 0
    while gate.acquire(blocking=False):
        held += 1
    try:
        started = timezone.now()
        busy = client.post("/api/v1/registry/registrations", body, content_type="application/json")
        assert (timezone.now() - started).total_seconds() < 2
        assert busy.status_code == 503 and busy["Retry-After"] == "1"
        assert busy.json()["type"].endswith(":overloaded")
        assert [r.levelname for r in caplog.records if r.name == "prakerja.overload"] == ["INFO"]
        assert not [r for r in caplog.records if r.name == "django.request"]
        assert not Applicant.objects.exists()
    finally:
        for _ in range(held):
            gate.release()
    done = client.post("/api/v1/registry/registrations", body, content_type="application/json")
    assert done.status_code == 201
