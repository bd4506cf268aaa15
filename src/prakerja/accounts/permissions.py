"""Who may do what: actions per role, then a per-object rule where the object's owner matters.

Every later app registers its actions in ROLE_ACTIONS and, for objects that belong to someone
(a platform's sales, an applicant's record), an object rule with @object_rule.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from prakerja.accounts.models import Role, User
from prakerja.core.errors import Forbidden, NotAuthenticated

PMO_ROLES = frozenset(
    {
        Role.PMO_ADMIN,
        Role.SELECTION_OFFICER,
        Role.PARTNERSHIP_OFFICER,
        Role.FINANCE_OFFICER,
        Role.ME_ANALYST,
        Role.COMPLAINTS_OFFICER,
        Role.AUDITOR,
    }
)
PARTNER_ROLES = frozenset({Role.PLATFORM_STAFF, Role.INSTITUTION_STAFF, Role.EMPLOYER})
READ_SUFFIX = ".view"

# Actions are "<area>.<verb>"; an auditor may perform every ".view" action and nothing else.
ROLE_ACTIONS: dict[str, set[str]] = {
    Role.PARTICIPANT: {"account.view", "account.change"},
    Role.PMO_ADMIN: {
        "account.view",
        "account.change",
        "pmo.view",
        "users.view",
        "users.change",
        "audit.view",
        "outbox.view",
        "applicants.view",
        "applicants.change",
        "appeals.view",
        "appeals.decide",
        "exclusions.view",
        "exclusions.change",
        "waves.view",
        "waves.change",
        "partners.view",
        "partners.change",
        "catalog.view",
        "catalog.change",
        "surveys.view",
        "surveys.change",
        "payments.view",
    },
    Role.SELECTION_OFFICER: {
        "account.view",
        "account.change",
        "pmo.view",
        "applicants.view",
        "exclusions.view",
        "exclusions.change",
        "waves.view",
        "waves.change",
    },
    Role.PARTNERSHIP_OFFICER: {
        "account.view",
        "account.change",
        "pmo.view",
        "partners.view",
        "partners.change",
        "catalog.view",
        "catalog.change",
    },
    Role.FINANCE_OFFICER: {
        "account.view",
        "account.change",
        "pmo.view",
        "payments.view",
        "payments.change",
    },
    Role.ME_ANALYST: {
        "account.view",
        "account.change",
        "pmo.view",
        "applicants.view",
        "waves.view",
        "partners.view",
        "catalog.view",
        "surveys.view",
        "surveys.change",
        "payments.view",
    },
    Role.COMPLAINTS_OFFICER: {
        "account.view",
        "account.change",
        "pmo.view",
        "applicants.view",
        "applicants.change",
        "appeals.view",
        "appeals.decide",
    },
    Role.AUDITOR: set(),
    Role.PLATFORM_STAFF: {"account.view", "account.change", "mitra.view", "mitra.change"},
    Role.INSTITUTION_STAFF: {"account.view", "account.change", "mitra.view", "mitra.change"},
    Role.EMPLOYER: {"account.view", "account.change", "mitra.view"},
}
AUDITOR_EXCLUDED = {"mitra.view"}  # the partner portal acts for one partner; auditors read the PMO side

ObjectRule = Callable[[User, Any], bool]
_OBJECT_RULES: dict[tuple[str, type], ObjectRule] = {}


def object_rule(action: str, model: type) -> Callable[[ObjectRule], ObjectRule]:
    """Register who may perform `action` on one object of `model` (on top of the role's actions)."""

    def register(rule: ObjectRule) -> ObjectRule:
        _OBJECT_RULES[(action, model)] = rule
        return rule

    return register


def role_allows(role: str, action: str) -> bool:
    if role == Role.AUDITOR:
        return action.endswith(READ_SUFFIX) and action not in AUDITOR_EXCLUDED
    return action in ROLE_ACTIONS.get(role, set())


def can(user: Any, action: str, obj: Any = None) -> bool:
    """True when the user's role allows the action and, for an object with a rule, the rule agrees."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not role_allows(user.role, action):
        return False
    if obj is None:
        return True
    rule = _OBJECT_RULES.get((action, type(obj)))
    return rule(user, obj) if rule else True


def authorize(user: Any, action: str, obj: Any = None) -> None:
    """Raise NotAuthenticated or Forbidden unless `can` allows it."""
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    if not can(user, action, obj):
        raise Forbidden()


def require(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """View decorator: the request's user must be allowed `action`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            authorize(request.user, action)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


@object_rule("account.view", User)
def _own_account_or_user_admin(user: User, account: User) -> bool:
    return account.pk == user.pk or role_allows(user.role, "users.view")


@object_rule("account.change", User)
def _own_account_only(user: User, account: User) -> bool:
    return account.pk == user.pk or role_allows(user.role, "users.change")
