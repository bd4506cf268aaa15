"""The demo's fictional digital platforms and training institutions, onboarded through partner services."""

import random
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from faker import Faker

from prakerja.accounts.models import User
from prakerja.identity.rules import nik_digits
from prakerja.partners import services
from prakerja.partners.models import ConflictOfInterest, Kind, Partner, PartnerStatus
from prakerja.partners.rules import CRITERIA
from prakerja.regions.models import Level, Region

PLATFORMS = (
    ("Kelas Maju", "kelasmaju.example.id"),
    ("BelajarKerja", "belajarkerja.example.id"),
    ("Ruang Terampil", "ruangterampil.example.id"),
    ("Pintar Digital", "pintardigital.example.id"),
    ("Karier Nusantara", "karier-nusantara.example.id"),
    ("Mahir", "mahir.example.id"),
    ("Sekolah Skill", "sekolahskill.example.id"),
    ("Tumbuh Bersama", "tumbuhbersama.example.id"),
)
PREFIXES = ("LPK", "Lembaga Kursus", "Balai Pelatihan", "Akademi", "Pusat Pelatihan", "Kursus")
WORDS_A = (
    "Cipta",
    "Karya",
    "Bina",
    "Cendekia",
    "Terampil",
    "Unggul",
    "Kreasi",
    "Sinar",
    "Harapan",
    "Insan",
    "Mitra",
)
WORDS_B = (
    "Nusantara",
    "Sejahtera",
    "Bangsa",
    "Mulia",
    "Utama",
    "Persada",
    "Gemilang",
    "Abadi",
    "Madani",
    "Prima",
)
DEMO_PDF = b"%PDF-1.4\n% Prakerja demo document\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
ACTOR = "system:demo"


def _pdf(kind: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{kind}.pdf", DEMO_PDF, content_type="application/pdf")


class _Onboarding:
    """Fills, submits and screens demo applications; officers are the demo's partnership officer and admin."""

    def __init__(self, rng: random.Random, maker: User, checker: User) -> None:
        self.rng, self.maker, self.checker = rng, maker, checker
        self.faker = Faker("id_ID")
        self.faker.seed_instance(rng.randrange(1 << 30))
        self.districts = list(
            Region.objects.filter(level=Level.DISTRICT).values_list("code", flat=True)[:400]
        )
        self.cities = list(Region.objects.filter(level=Level.REGENCY).values_list("code", "name"))
        self.serial = 0

    def nik(self) -> str:
        self.serial += 1
        born = date(1960, 1, 1) + timedelta(days=self.rng.randrange(365 * 30))
        return nik_digits(
            self.rng.choice(self.districts), born, self.rng.choice("LP"), self.serial % 9000 + 1
        )

    def fill(self, partner: Partner, nib: str, owners: list[tuple[str, str]]) -> None:
        province = self.rng.choice(self.cities)[0][:2]
        data = {
            "legal_name": f"PT {partner.name} Indonesia"
            if partner.kind == Kind.PLATFORM
            else f"{partner.name}",
            "legal_form": "pt"
            if partner.kind == Kind.PLATFORM
            else self.rng.choice(["pt", "cv", "foundation"]),
            "deed_number": f"AHU-{self.rng.randrange(10**6):06d}.AH.01.01.{self.rng.randrange(2010, 2024)}",
            "deed_date": date(2010, 1, 1) + timedelta(days=self.rng.randrange(4000)),
            "nib": nib,
            "address": self.faker.street_address(),
            "province_code": province,
            "description": "Mitra pelatihan kerja Prakerja (data demo).",
        }
        if partner.kind == Kind.PLATFORM:
            data |= {
                "portal_url": f"https://{dict(PLATFORMS)[partner.name]}",
                "it_systems": "Layanan awan di Indonesia, ISO 27001, SSO, API REST untuk integrasi Prakerja.",
                "national_reach": True,
            }
        else:
            data |= {
                "accreditation": self.rng.choice(["A", "B", "C", ""]),
                "accreditation_number": f"LPK-{self.rng.randrange(10**5):05d}",
            }
        services.partner_update(partner=partner, data=data, actor=ACTOR)
        for kind in ("deed", "nib") + (("it_systems",) if partner.kind == Kind.PLATFORM else ()):
            services.document_upload(partner=partner, kind=kind, upload=_pdf(kind), actor=ACTOR)
        for name, number in owners:
            services.tie_add(
                partner=partner,
                party_kind="person",
                name=name,
                number=number,
                role="owner",
                share_percent=None,
                actor=ACTOR,
            )
        services.tie_add(
            partner=partner,
            party_kind="person",
            name=self.faker.name(),
            number=self.nik(),
            role="director",
            share_percent=None,
            actor=ACTOR,
        )
        if partner.kind == Kind.INSTITUTION:
            for _ in range(self.rng.randint(1, 3)):
                services.trainer_add(
                    institution=partner,
                    name=self.faker.name(),
                    competency=self.rng.choice(
                        [
                            "Pemasaran digital",
                            "Tata boga",
                            "Bahasa Inggris",
                            "Pemrograman web",
                            "Akuntansi dasar",
                        ]
                    ),
                    certificate=f"BNSP-{self.rng.randrange(10**6):06d}",
                    actor=ACTOR,
                )

    def screen(self, partner: Partner, *, outcome: str) -> None:
        """Take a submitted application as far as `outcome`: in_review, proposed, approved or rejected."""
        services.review_start(partner=partner, officer=self.maker)
        failing = outcome == "rejected"
        for n, criterion in enumerate(CRITERIA[partner.kind]):
            services.screening_record(
                partner=partner,
                criterion=criterion,
                passed=not (failing and n == 0),
                evidence="Dokumen diperiksa",
                note="",
                officer=self.maker,
            )
        if outcome == "in_review":
            return
        verdict = services.verdict_propose(
            partner=partner,
            approve=not failing,
            note="Akta bukan badan hukum yang sah." if failing else "",
            officer=self.maker,
        )
        if outcome != "proposed":
            services.verdict_check(verdict=verdict, officer=self.checker, confirm=True)


def demo_partners(*, seed: int = 2026, institutions: int = 150) -> int:
    """Eight platforms (seven integrated), `institutions` institutions in every stage; some owners shared."""
    if Partner.objects.exists():
        return 0
    rng = random.Random(seed)
    maker, checker = User.objects.get(username="pmo.kemitraan"), User.objects.get(username="pmo.admin")
    onboarding = _Onboarding(rng, maker, checker)
    stages = ["approved"] * (institutions - 30) + ["in_review"] * 8 + ["proposed"] * 4 + ["submitted"] * 8
    stages += ["draft"] * 6 + ["rejected"] * 4
    shared = [(onboarding.faker.name(), onboarding.nik()) for _ in range(3)]  # owners of a platform and LPKs
    made: list[Partner] = []
    used: set[str] = set()
    for n, stage in enumerate(stages):
        name = ""
        while not name or name in used:
            city = rng.choice(onboarding.cities)[1].title().replace("Kabupaten ", "").replace("Kota ", "")
            name = f"{rng.choice(PREFIXES)} {rng.choice(WORDS_A)} {rng.choice(WORDS_B)} {city}"
        used.add(name)
        partner = services.partner_register(kind=Kind.INSTITUTION, name=name, actor=ACTOR)
        owners = [(onboarding.faker.name(), onboarding.nik())]
        if n < 6:  # two institutions per shared owner: the conflicts the PMO must decide
            owners.append(shared[n // 2])
        onboarding.fill(partner, f"91{n:011d}", owners)
        if stage != "draft":
            services.partner_submit(partner=partner, actor=ACTOR)
            if stage != "submitted":
                onboarding.screen(partner, outcome=stage)
        made.append(partner)
    good = made[: institutions - 30]
    today = timezone.localdate()
    for n, (name, _domain) in enumerate(PLATFORMS):
        platform = services.partner_register(kind=Kind.PLATFORM, name=name, actor=ACTOR)
        owners = [(onboarding.faker.name(), onboarding.nik())] + ([shared[n]] if n < 3 else [])
        onboarding.fill(platform, f"92{n:011d}", owners)
        services.cooperation_set(
            platform=platform, institutions=rng.sample(good, min(45, len(good))), actor=ACTOR
        )
        services.partner_submit(partner=platform, actor=ACTOR)
        if n == len(PLATFORMS) - 1:
            onboarding.screen(platform, outcome="proposed")
            continue
        onboarding.screen(platform, outcome="approved")
        services.agreement_record(
            partner=platform,
            number=f"PKS-{n + 1:03d}/PMO-PRAKERJA/2026",
            signed_on=today - timedelta(days=30),
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=700),
            officer=maker,
        )
        services.credential_issue(partner=platform, officer=maker)
    conflicts = list(ConflictOfInterest.objects.order_by("pk"))
    if conflicts:
        services.conflict_decide(
            conflict=conflicts[0], allow=False, note="Pemilik sama; dilarang.", officer=maker
        )
    if len(conflicts) > 1:
        services.conflict_decide(
            conflict=conflicts[1],
            allow=True,
            note="Saham sudah dialihkan (akta perubahan diperiksa).",
            officer=maker,
        )
    for username, partner in (
        ("mitra.platform", Partner.objects.get(name=PLATFORMS[0][0])),
        ("mitra.lembaga", good[6]),
    ):
        user = User.objects.get(username=username)
        if not hasattr(user, "partner_member"):
            services.member_add(partner=partner, user=user, actor=ACTOR)
    return Partner.objects.filter(status__in=[PartnerStatus.APPROVED, PartnerStatus.INTEGRATED]).count()
