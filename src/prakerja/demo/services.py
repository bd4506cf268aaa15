"""Seeds the demo programme through each app's own services; safe to run again."""

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyotp
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from prakerja.accounts.models import Role, User
from prakerja.accounts.permissions import PMO_ROLES
from prakerja.accounts.services import user_create
from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.identity.selectors import nik_index
from prakerja.regions.models import Level, Region
from prakerja.registry.models import Appeal, Applicant, ExclusionList
from prakerja.registry.rules import CONSENT_TEXTS
from prakerja.registry.services import (
    ImportResult,
    appeal_submit,
    applicant_register,
    applicants_import,
    exclusion_list_upload,
)
from prakerja.waves import rules as wave_rules
from prakerja.waves.models import Scheme, Wave
from prakerja.waves.services import (
    seed_commit,
    wave_announce,
    wave_close,
    wave_create,
    wave_join_many,
    wave_open,
    wave_select,
)

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
    # Added later: new users go last, so the phone numbers of those already made stay theirs.
    ("pmo.bendahara", Role.FINANCE_OFFICER, "Bendahara (pemeriksa)"),
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


# Shares of the demo's people that other agencies' lists name, so the registry shows real refusals.
DEMO_LISTS = (("civil_servant", "BKN", 0.03), ("student", "Kemendikbudristek", 0.02),
              ("wage_subsidy", "Kemnaker", 0.015), ("blacklist", "PMO", 0.005))  # fmt: skip
DEMO_AS_OF = date(2026, 1, 1)


def demo_people_register(count: int, *, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Register `count` synthetic people through the import service and upload the demo's exclusion lists."""
    villages = list(Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural"))
    people = list(generate_people(count, villages=villages, seed=2026, today=DEMO_AS_OF))
    rows = (
        (line, dict(zip(COLUMNS, person.row(), strict=True))) for line, person in enumerate(people, start=2)
    )
    result = applicants_import(
        rows=rows, actor="system:demo", on_error=lambda line, problems: None, progress=progress
    )
    rng = random.Random(2026)
    for kind, source, share in DEMO_LISTS:
        if ExclusionList.objects.filter(kind=kind, source=source, as_of=DEMO_AS_OF).exists():
            continue
        listed = [p.nik for p in rng.sample(people, int(len(people) * share))]
        exclusion_list_upload(
            kind=kind,
            source=source,
            as_of=DEMO_AS_OF,
            niks=list(enumerate(listed, 1)),
            actor="system:demo",
            on_error=lambda line, problems: None,
        )
    return result


def demo_participant_register(username: str = "peserta") -> Applicant | None:
    """The demo participant has verified contacts, a registration and a test to take."""
    user = User.objects.get(username=username)
    existing = Applicant.objects.filter(user=user).first()
    if existing:
        return existing
    user.email_verified_at = user.phone_verified_at = user.date_joined
    user.save(update_fields=["email_verified_at", "phone_verified_at"])
    villages = list(Region.objects.filter(level=Level.VILLAGE).values_list("code", "rural"))
    for person in generate_people(50, villages=villages, seed=7, today=DEMO_AS_OF):
        if person.sex == "P" and not Applicant.objects.filter(nik_index=nik_index(person.nik)).exists():
            data = dict(zip(COLUMNS, person.row(), strict=True))
            data["full_name"] = user.first_name or data["full_name"]
            return applicant_register(user=user, data=data, consents=list(CONSENT_TEXTS))
    return None


def demo_appeals(count: int = 5) -> int:
    """A few appeals from applicants on lists, so the complaints officers have work to see."""
    if Appeal.objects.exists():
        return 0
    made = 0
    for applicant in Applicant.objects.filter(eligible=False).order_by("id")[: count * 3]:
        if made == count or applicant.appeals.exists():
            continue
        reason = applicant.reasons[0]
        appeal_submit(
            applicant=applicant,
            rule_code=reason.code,
            statement="Data instansi sudah tidak sesuai: saya sudah tidak terdaftar di sana sejak 2025.",
        )
        made += 1
    return made


@dataclass(frozen=True)
class DemoWaves:
    drawn: Wave
    open: Wave | None


def demo_waves(*, work_dir: Path) -> DemoWaves | None:
    """Wave 1 run end to end (a tenth of the eligible selected, Jawa Barat split by regency), then wave 2
    opened with wave 1's waiting list carried over, so the participant pages have both."""
    existing = Wave.objects.filter(number=1).first()
    if existing is not None:
        return DemoWaves(existing, Wave.objects.filter(number=2).first())
    eligible = dict(
        Applicant.objects.filter(eligible=True).values_list("province_code").annotate(n=Count("pk"))
    )
    if not eligible:
        return None
    split = max(eligible, key=lambda code: eligible[code])
    by_regency = dict(
        Applicant.objects.filter(eligible=True, province_code=split)
        .values_list("regency_code")
        .annotate(n=Count("pk"))
    )
    quotas = {code: max(n // 10, 1) for code, n in eligible.items()}
    quotas |= {code: max(n // 10, 1) for code, n in by_regency.items()}
    quotas[split] = sum(n for code, n in quotas.items() if len(code) == 4)
    now = timezone.now()
    scheme = Scheme.objects.get(code="semi-bansos-2020")
    actor = "system:demo"
    first = wave_create(
        number=1,
        name="Gelombang 1",
        scheme=scheme,
        opens_at=now - timedelta(days=6),
        closes_at=now + timedelta(days=1),
        total_quota=sum(n for code, n in quotas.items() if len(code) == 2),
        quotas=quotas,
        priority={"employment": ["laid_off"]},
        actor=actor,
    )
    wave_open(wave=first, actor=actor)
    wave_join_many(wave=first, applicants=Applicant.objects.all(), actor=actor)
    seed = secrets.token_hex(32)
    (work_dir / "demo-wave-1-seed.txt").write_text(seed + "\n")
    seed_commit(wave=first, commitment=wave_rules.commitment(seed), actor=actor)
    wave_close(wave=first, actor=actor)
    wave_select(wave=first, seed=seed, actor=actor)
    wave_announce(wave=first, actor=actor)
    second = wave_create(
        number=2,
        name="Gelombang 2",
        scheme=scheme,
        opens_at=timezone.now(),
        closes_at=timezone.now() + timedelta(days=14),
        total_quota=first.total_quota,
        quotas=quotas,
        priority={"employment": ["laid_off"]},
        actor=actor,
    )
    wave_open(wave=second, actor=actor)
    first.refresh_from_db()
    second.refresh_from_db()
    return DemoWaves(first, second)
