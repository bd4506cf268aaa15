"""Partners set up directly (their app owns the real flow); trainings through the catalogue services."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.accounts.models import User
from prakerja.catalog import rules, services
from prakerja.catalog.models import Training
from prakerja.partners.models import Cooperation, Member, Partner

VILLAGE = "3273011001"  # a village of Kota Bandung (3273), Jawa Barat (32)


def training_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title_id": "Pemasaran Digital untuk UMKM",
        "title_en": "Digital Marketing for Small Businesses",
        "description_id": "<p>Belajar <strong>iklan</strong> media sosial.</p>",
        "description_en": "<p>Learn social media <strong>advertising</strong>.</p>",
        "skills": ["Social media advertising", "Copywriting"],
        "sector": "sales",
        "level": "beginner",
        "mode": "online",
        "hours": 10,
        "price": 1_000_000,
    }
    data.update(overrides)
    return data


def partner(kind: str, name: str, status: str = "approved", **fields: Any) -> Partner:
    return Partner.objects.create(kind=kind, name=name, status=status, **fields)


def member_of(org: Partner, make_user: Callable[..., User]) -> User:
    user = make_user("institution_staff" if org.kind == "institution" else "platform_staff")
    Member.objects.create(partner=org, user=user)
    return user


def client_of(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def add_session(training: Training, actor: User, **overrides: Any) -> Any:
    start = timezone.now() + timedelta(days=7)
    fields: dict[str, Any] = {
        "starts_at": start,
        "ends_at": start + timedelta(hours=4),
        "village_code": VILLAGE,
        "address": "Jl. Asia Afrika 1",
        "capacity": 20,
    }
    fields.update(overrides)
    return services.session_add(training=training, actor=actor, **fields)


def approve(training: Training, officer: User) -> Training:
    services.training_curate(
        training=training,
        officer=officer,
        outcome="approve",
        checklist=dict.fromkeys(rules.CHECKLIST, True),
        reasons="",
    )
    training.refresh_from_db()
    return training


@pytest.fixture
def institution(db: Any) -> Partner:
    return partner("institution", "Lembaga Kursus Maju", status="approved")


@pytest.fixture
def platform(institution: Partner) -> Partner:
    org = partner("platform", "Platform Satu", status="integrated", portal_url="https://satu.example")
    Cooperation.objects.create(platform=org, institution=institution)
    return org


@pytest.fixture
def staff(institution: Partner, make_user: Callable[..., User]) -> User:
    return member_of(institution, make_user)


@pytest.fixture
def officer(make_user: Callable[..., User]) -> User:
    return make_user("partnership_officer")


@pytest.fixture
def make_training(staff: User, officer: User) -> Callable[..., Training]:
    """A training through the services: created, with a session when in person, and approved unless told."""

    def make(status: str = "approved", actor: User | None = None, **overrides: Any) -> Training:
        actor = actor or staff
        training = services.training_create(actor=actor, data=training_data(**overrides))
        if training.mode != "online":
            add_session(training, actor)
        if status == "draft":
            return training
        services.training_submit(training=training, actor=actor)
        if status == "submitted":
            training.refresh_from_db()
            return training
        return approve(training, officer)

    return make
