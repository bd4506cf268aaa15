import pytest
from django.contrib.auth.models import AnonymousUser

from prakerja.accounts.models import Role
from prakerja.accounts.permissions import PMO_ROLES, authorize, can, role_allows
from prakerja.core.errors import Forbidden, NotAuthenticated

pytestmark = pytest.mark.django_db


def test_pmo_pages_are_for_pmo_roles_only(make_user) -> None:
    for role in Role.values:
        assert can(make_user(role), "pmo.view") is (role in PMO_ROLES)


def test_partner_pages_are_for_partners_only(make_user) -> None:
    allowed = {Role.PLATFORM_STAFF, Role.INSTITUTION_STAFF, Role.EMPLOYER}
    for role in Role.values:
        assert can(make_user(role), "mitra.view") is (role in allowed)


def test_auditor_reads_everything_and_writes_nothing() -> None:
    assert role_allows(Role.AUDITOR, "audit.view")
    assert role_allows(Role.AUDITOR, "users.view")
    assert role_allows(Role.AUDITOR, "anything.view")
    assert not role_allows(Role.AUDITOR, "users.change")
    assert not role_allows(Role.AUDITOR, "account.change")


def test_a_participant_sees_only_their_own_account(make_user) -> None:
    alice, bob = make_user(Role.PARTICIPANT), make_user(Role.PARTICIPANT)
    assert can(alice, "account.view", alice)
    assert not can(alice, "account.view", bob)
    assert not can(alice, "account.change", bob)


def test_user_administrators_and_auditors_see_accounts_but_auditors_cannot_change_them(make_user) -> None:
    admin, auditor, bob = make_user(Role.PMO_ADMIN), make_user(Role.AUDITOR), make_user(Role.PARTICIPANT)
    assert can(admin, "account.view", bob) and can(admin, "account.change", bob)
    assert can(auditor, "account.view", bob)
    assert not can(auditor, "account.change", bob)


def test_inactive_and_anonymous_users_can_do_nothing(make_user) -> None:
    admin = make_user(Role.PMO_ADMIN)
    admin.is_active = False
    assert not can(admin, "pmo.view")
    assert not can(AnonymousUser(), "pmo.view")
    with pytest.raises(NotAuthenticated):
        authorize(AnonymousUser(), "pmo.view")
    with pytest.raises(Forbidden):
        authorize(make_user(Role.PARTICIPANT), "pmo.view")
