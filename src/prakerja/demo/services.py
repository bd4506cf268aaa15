"""Seeds the demo programme through each app's own services; safe to run again."""

from dataclasses import dataclass

import pyotp
from django.db import transaction

from prakerja.accounts.models import Role, User
from prakerja.accounts.permissions import PMO_ROLES
from prakerja.accounts.services import user_create

DEMO_PASSWORD = "prakerja-demo-2026"
DEMO_USERS = (
    ("peserta", Role.PARTICIPANT, "Siti Rahmawati"),
    ("pmo.admin", Role.PMO_ADMIN, "Admin PMO"),
    ("pmo.seleksi", Role.SELECTION_OFFICER, "Petugas Seleksi"),
    ("pmo.kemitraan", Role.PARTNERSHIP_OFFICER, "Petugas Kemitraan"),
    ("pmo.keuangan", Role.FINANCE_OFFICER, "Petugas Keuangan"),
    ("pmo.monev", Role.ME_ANALYST, "Analis Monev"),
    ("pmo.pengaduan", Role.COMPLAINTS_OFFICER, "Petugas Pengaduan"),
    ("auditor", Role.AUDITOR, "Auditor"),
    ("mitra.platform", Role.PLATFORM_STAFF, "Staf Platform"),
    ("mitra.lembaga", Role.INSTITUTION_STAFF, "Staf Lembaga"),
    ("industri", Role.EMPLOYER, "Asosiasi Industri"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    totp_secret: str | None


def demo_users_ensure() -> list[DemoUser]:
    """Every demo user exists with the demo password; PMO users are enrolled in TOTP."""
    made = []
    with transaction.atomic():
        for number, (username, role, name) in enumerate(DEMO_USERS, start=1):
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    role=role,
                    first_name=name,
                    email=f"{username}@demo.prakerja.example",
                    phone=f"0812000000{number:02d}",
                    actor="system:demo",
                )
            if role in PMO_ROLES and not user.totp_confirmed_at:
                user.totp_secret = pyotp.random_base32()
                user.totp_confirmed_at = user.date_joined
                user.save(update_fields=["totp_secret", "totp_confirmed_at"])
            made.append(DemoUser(username, role, user.totp_secret or None))
    return made
