"""Shared fixtures: the regions are loaded once per test database, users are made by a factory."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from prakerja.accounts.middleware import SESSION_KEY
from prakerja.accounts.models import Role, User
from prakerja.accounts.services import user_create
from prakerja.regions.services import regions_load

PASSWORD = "correct-horse-battery-9"


def pytest_configure(config: Any) -> None:
    from django.conf import settings

    # Real hashing costs ~0.3 s a password by design; tests check behaviour, not hash strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        regions_load()


@pytest.fixture(autouse=True)
def _programme_settings(settings: Any, tmp_path: Any) -> None:
    """Django's test set-up swaps the e-mail backend for locmem; the programme's mail goes to the outbox.
    Uploads go to the test's own folder."""
    settings.EMAIL_BACKEND = "prakerja.core.notifications.OutboxEmailBackend"
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def staff_client(make_user: Callable[..., User]) -> Callable[[str], Client]:
    """A logged-in client of a new user of `role`, past the PMO second factor, asking for English pages."""

    def make(role: str) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(make_user(role))
        session = client.session
        session[SESSION_KEY] = True
        session.save()
        return client

    return make


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(role: str = Role.PARTICIPANT, **fields: Any) -> User:
        n = next(counter)
        defaults = {
            "username": f"{role}-{n}",
            "email": f"{role}-{n}@example.org",
            "phone": f"08120000{n:04d}",
        }
        defaults.update(fields)
        return user_create(password=PASSWORD, role=role, **defaults)

    return make


def reseed() -> None:
    """Restore what the migrations seed (regions aside, which `regions_load` restores): a transactional test
    before this one flushed the schemes and the survey instruments with everything else."""
    import importlib

    from django.apps import apps

    from prakerja.regions.models import Region
    from prakerja.regions.selectors import forget_cached_regions
    from prakerja.waves.models import Scheme

    forget_cached_regions()
    if not Region.objects.filter(code="3273").exists():
        regions_load()
    for scheme in importlib.import_module("prakerja.waves.migrations.0002_seed_schemes").SCHEMES:
        Scheme.objects.get_or_create(code=scheme["code"], defaults=scheme)
    importlib.import_module("prakerja.surveys.migrations.0002_seed_instruments").seed(apps, None)
