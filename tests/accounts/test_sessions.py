"""The lean session store and user backend read what Django's own would: the same session data, a user
with decrypted phone and real booleans, nobody for an expired session or an inactive user."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from prakerja.accounts.sessions import SessionStore, UserBackend

pytestmark = pytest.mark.django_db


def test_a_session_saved_by_django_is_read_back_and_an_expired_one_is_empty() -> None:
    saved = DjangoStore()
    saved["cart"] = {"items": [1, 2]}
    saved.create()
    assert SessionStore(saved.session_key).load() == {"cart": {"items": [1, 2]}}
    Session.objects.filter(pk=saved.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(saved.session_key)
    assert expired.load() == {} and expired.session_key is None
    assert SessionStore("no-such-session-key-0123456789ab").load() == {}


def test_the_backend_builds_the_same_user_as_the_orm(make_user) -> None:
    user = make_user(phone="081234567890")
    user.is_staff = True
    user.save()
    loaded = UserBackend().get_user(str(user.pk))
    assert loaded is not None
    assert loaded.phone == "081234567890" and loaded.is_staff is True and loaded.is_active is True
    assert (
        loaded.date_joined == user.date_joined
        and loaded.get_session_auth_hash() == user.get_session_auth_hash()
    )
    assert UserBackend().get_user(user.pk + 1000) is None
    user.is_active = False
    user.save()
    assert UserBackend().get_user(user.pk) is None


def test_a_signed_in_client_is_known_on_the_next_request_and_forgotten_after_logout(make_user) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    assert client.session[SESSION_KEY] == str(user.pk)
    assert client.get("/api/v1/registry/registrations/me").status_code == 404  # signed in, not registered
    client.logout()
    assert client.get("/api/v1/registry/registrations/me").status_code == 401
