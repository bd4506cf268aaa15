"""Reads for the home pages: what the programme holds so far."""

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from prakerja.accounts.models import Role, User
from prakerja.accounts.permissions import PARTNER_ROLES, PMO_ROLES
from prakerja.core.models import AuditEntry, OutboxMessage, OutboxStatus
from prakerja.regions.models import Level, Region

LEVEL_PLURALS = {
    Level.PROVINCE: _("Provinces"),
    Level.REGENCY: _("Regencies/cities"),
    Level.DISTRICT: _("Districts"),
    Level.VILLAGE: _("Villages"),
}


def home_url(user: User) -> str:
    if user.role in PMO_ROLES:
        return "/pmo/"
    if user.role in PARTNER_ROLES:
        return "/mitra/"
    return "/"


def programme_summary() -> dict[str, object]:
    by_level = dict(Region.objects.values_list("level").annotate(n=Count("code")).values_list("level", "n"))
    by_role = dict(User.objects.values_list("role").annotate(n=Count("id")).values_list("role", "n"))
    return {
        "regions": [(label, by_level.get(level, 0)) for level, label in LEVEL_PLURALS.items()],
        "users": [(label, by_role.get(role, 0)) for role, label in Role.choices],
        "audit_entries": AuditEntry.objects.count(),
        "outbox_pending": OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count(),
        "latest_audit": list(AuditEntry.objects.order_by("-id")[:10]),
    }
