"""The demo's training catalogue: realistic topics per sector, made into about 1,500 trainings."""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from prakerja.accounts.models import User
from prakerja.catalog.models import Training, TrainingStatus
from prakerja.catalog.rules import CHECKLIST
from prakerja.catalog.services import (
    listing_create,
    session_add,
    training_create,
    training_curate,
    training_submit,
)
from prakerja.partners.models import Kind, Partner, PartnerStatus
from prakerja.partners.selectors import IN_GOOD_STANDING, listing_problem
from prakerja.regions.models import Level, Region

ACTOR = "system:demo"

# sector -> (Indonesian title, English title, competencies, typical hours)
TOPICS: dict[str, tuple[tuple[str, str, tuple[str, ...], int], ...]] = {
    "it": (
        ("Pemrograman Web dengan Python", "Web Programming with Python", ("Python", "Django", "HTML"), 40),
        (
            "Dasar-Dasar Jaringan Komputer",
            "Computer Networking Basics",
            ("TCP/IP", "Router", "Troubleshooting"),
            24,
        ),
        (
            "Analisis Data dengan Spreadsheet",
            "Data Analysis with Spreadsheets",
            ("Spreadsheet", "Pivot", "Grafik"),
            16,
        ),
        ("Teknisi Perbaikan Ponsel", "Mobile Phone Repair Technician", ("Perbaikan perangkat", "Solder"), 32),
        ("Desain Antarmuka Aplikasi", "App Interface Design", ("UI", "UX", "Figma"), 24),
        ("Administrasi Server Linux", "Linux Server Administration", ("Linux", "Shell", "Keamanan"), 30),
    ),
    "sales": (
        (
            "Pemasaran Digital untuk UMKM",
            "Digital Marketing for Small Businesses",
            ("Media sosial", "Iklan"),
            12,
        ),
        ("Teknik Penjualan Lewat Telepon", "Telephone Sales Techniques", ("Komunikasi", "Negosiasi"), 8),
        ("Berjualan di Lokapasar", "Selling on Marketplaces", ("Lokapasar", "Foto produk", "Deskripsi"), 10),
        ("Copywriting untuk Promosi", "Copywriting for Promotion", ("Copywriting", "Branding"), 10),
    ),
    "language": (
        ("Bahasa Inggris untuk Pelayanan Pelanggan", "English for Customer Service", ("Bahasa Inggris",), 20),
        (
            "Bahasa Jepang Dasar untuk Pekerja Migran",
            "Basic Japanese for Migrant Workers",
            ("Bahasa Jepang",),
            60,
        ),
        ("Bahasa Korea Persiapan EPS-TOPIK", "Korean for the EPS-TOPIK Test", ("Bahasa Korea",), 60),
        (
            "Bahasa Inggris untuk Wawancara Kerja",
            "English for Job Interviews",
            ("Bahasa Inggris", "Wawancara"),
            12,
        ),
    ),
    "food": (
        ("Memulai Usaha Kue Rumahan", "Starting a Home Bakery", ("Tata boga", "Kalkulasi biaya"), 12),
        ("Barista Profesional", "Professional Barista", ("Kopi", "Espresso", "Pelayanan"), 24),
        ("Keamanan Pangan dan Higiene", "Food Safety and Hygiene", ("HACCP", "Higiene"), 8),
        (
            "Masakan Nusantara untuk Katering",
            "Indonesian Cooking for Catering",
            ("Tata boga", "Katering"),
            20,
        ),
    ),
    "tourism": (
        ("Resepsionis Hotel", "Hotel Receptionist", ("Front office", "Reservasi"), 24),
        ("Pemandu Wisata Lokal", "Local Tour Guide", ("Pemanduan", "Sejarah lokal"), 16),
        ("Tata Graha Perhotelan", "Hotel Housekeeping", ("Tata graha", "Standar kebersihan"), 20),
    ),
    "manufacturing": (
        ("Operator Mesin CNC", "CNC Machine Operator", ("CNC", "Membaca gambar teknik"), 48),
        ("Pengelasan SMAW Dasar", "Basic SMAW Welding", ("Pengelasan", "K3"), 48),
        ("Pengendalian Mutu di Pabrik", "Quality Control in Factories", ("Kendali mutu", "5S"), 16),
    ),
    "agriculture": (
        ("Budidaya Hidroponik", "Hydroponic Farming", ("Hidroponik", "Nutrisi tanaman"), 12),
        ("Budidaya Ikan Lele Bioflok", "Biofloc Catfish Farming", ("Akuakultur", "Bioflok"), 12),
        ("Pengolahan Hasil Pertanian", "Processing Farm Produce", ("Pascapanen", "Pengemasan"), 10),
    ),
    "health": (
        ("Pendamping Lansia (Caregiver)", "Elderly Caregiver", ("Perawatan lansia", "P3K"), 40),
        ("Pertolongan Pertama", "First Aid", ("P3K", "RJP"), 8),
        ("Asisten Apoteker", "Pharmacy Assistant", ("Farmasi dasar", "Pelayanan"), 32),
    ),
    "construction": (
        ("Instalasi Listrik Rumah", "Home Electrical Installation", ("Kelistrikan", "K3"), 32),
        ("Tukang Batu dan Beton", "Masonry and Concrete", ("Pasangan bata", "Beton"), 40),
        ("Menggambar Teknik dengan CAD", "Technical Drawing with CAD", ("CAD", "Gambar teknik"), 30),
    ),
    "finance": (
        (
            "Akuntansi Dasar untuk UMKM",
            "Basic Accounting for Small Businesses",
            ("Pembukuan", "Laporan keuangan"),
            12,
        ),
        ("Perpajakan Pribadi dan Usaha", "Personal and Business Taxes", ("Pajak", "e-Filing"), 10),
        ("Teller dan Layanan Perbankan", "Bank Teller and Services", ("Perbankan", "Pelayanan"), 16),
    ),
    "beauty": (
        ("Tata Rias Pengantin", "Bridal Make-up", ("Tata rias",), 24),
        ("Pangkas Rambut (Barber)", "Barbering", ("Pangkas rambut", "Pelayanan"), 20),
    ),
    "fashion": (
        ("Menjahit Pakaian Dasar", "Basic Garment Sewing", ("Menjahit", "Pola"), 32),
        ("Desain Batik Modern", "Modern Batik Design", ("Batik", "Desain"), 16),
    ),
    "automotive": (
        ("Servis Sepeda Motor Injeksi", "Fuel-Injection Motorcycle Service", ("Mesin", "Injeksi"), 32),
        ("Kelistrikan Mobil", "Car Electrical Systems", ("Kelistrikan otomotif",), 32),
    ),
    "logistics": (
        ("Manajemen Gudang", "Warehouse Management", ("Inventaris", "Gudang"), 16),
        ("Pengemudi Logistik yang Aman", "Safe Logistics Driving", ("Keselamatan", "Rute"), 8),
    ),
    "entrepreneurship": (
        ("Menyusun Rencana Usaha", "Writing a Business Plan", ("Rencana usaha", "Keuangan"), 8),
        ("Mengelola Usaha Mikro", "Running a Micro Business", ("Manajemen", "Pembukuan"), 10),
    ),
    "creative": (
        ("Fotografi Produk dengan Ponsel", "Product Photography with a Phone", ("Fotografi", "Editing"), 8),
        ("Membuat Video untuk Media Sosial", "Making Social Media Videos", ("Videografi", "Editing"), 12),
        ("Desain Grafis untuk Pemula", "Graphic Design for Beginners", ("Desain grafis", "Tipografi"), 16),
    ),
}
RATE_PER_HOUR = {"online": 25_000, "hybrid": 35_000, "offline": 45_000}
LEVELS = ("beginner", "beginner", "intermediate", "advanced")
LEVEL_LABELS = {"beginner": ("Dasar", "Basics"), "intermediate": ("Menengah", "Intermediate"),
                "advanced": ("Lanjutan", "Advanced")}  # fmt: skip


@dataclass(frozen=True)
class DemoTraining:
    sector: str
    mode: str
    level: str
    data: dict[str, object]


def demo_training_rows(count: int, *, rng: random.Random) -> list[DemoTraining]:
    """`count` trainings; prices follow hours and mode, with a few far off the norm for the price check."""
    rows = []
    topics = [(sector, topic) for sector, items in TOPICS.items() for topic in items]
    for n in range(count):
        sector, (title_id, title_en, skills, hours) = topics[n % len(topics)]
        mode = rng.choices(("online", "offline", "hybrid"), weights=(6, 3, 1))[0]
        level = rng.choice(LEVELS)
        hours = max(4, round(hours * rng.uniform(0.7, 1.4)))
        price = RATE_PER_HOUR[mode] * hours * rng.uniform(0.8, 1.25)
        if n % 97 == 13:  # an outlier now and then: the PMO's price check should catch it
            price *= 4
        price = min(int(price) // 1000 * 1000, 3_500_000)
        label_id, label_en = LEVEL_LABELS[level]
        rows.append(
            DemoTraining(
                sector,
                mode,
                level,
                {
                    "title_id": f"{title_id} — {label_id}",
                    "title_en": f"{title_en} — {label_en}",
                    "description_id": (
                        f"Pelatihan {title_id.lower()} tingkat {label_id.lower()} selama {hours} jam. "
                        f"Peserta menguasai: {', '.join(skills)}. Dinilai lewat uji praktik di akhir."
                    ),
                    "description_en": (
                        f"A {hours}-hour {label_en.lower()} course in {title_en.lower()}. "
                        f"Participants master: {', '.join(skills)}. Assessed by a practical test at the end."
                    ),
                    "skills": list(skills),
                    "sector": sector,
                    "level": level,
                    "mode": mode,
                    "hours": hours,
                    "price": price,
                },
            )
        )
    return rows


def demo_catalog(*, count: int = 1500, seed: int = 2026) -> int:
    """`count` trainings of the approved institutions, curated (most approved, some waiting, a few turned
    down), listed by the integrated platforms that may sell them; returns how many are approved."""
    if Training.objects.exists():
        return 0
    rng = random.Random(seed)
    officer = User.objects.get(username="pmo.kemitraan")
    institutions = list(
        Partner.objects.filter(kind=Kind.INSTITUTION, status__in=IN_GOOD_STANDING).order_by("pk")
    )
    if not institutions:
        return 0
    villages: dict[str, list[str]] = {}
    for code in Region.objects.filter(level=Level.VILLAGE).values_list("code", flat=True)[::40]:
        villages.setdefault(code[:2], []).append(code)
    start = timezone.now() + timedelta(days=7)
    approve = dict.fromkeys(CHECKLIST, True)
    for n, row in enumerate(demo_training_rows(count, rng=rng)):
        institution = institutions[n % len(institutions)]
        training = training_create(actor=ACTOR, institution=institution, data=row.data)
        if row.mode != "online":
            place = villages.get(institution.province_code) or next(iter(villages.values()))
            for s in range(rng.randint(1, 3)):
                begins = start + timedelta(days=rng.randrange(60), hours=s * 24 + 1)
                session_add(
                    training=training,
                    actor=ACTOR,
                    starts_at=begins,
                    ends_at=begins + timedelta(hours=6),
                    village_code=rng.choice(place),
                    address=f"Gedung Pelatihan, Jl. Merdeka No. {rng.randint(1, 200)}",
                    capacity=rng.choice((15, 20, 25, 30)),
                )
        if n % 50 == 7:
            continue  # a draft the institution is still writing
        training_submit(training=training, actor=ACTOR)
        if n % 50 in (11, 23):
            continue  # waiting in the curation queue
        if n % 50 == 31:
            training_curate(
                training=training,
                officer=officer,
                outcome="changes",
                checklist={**approve, "description": False},
                reasons="Deskripsi bahasa Inggris belum sesuai isi pelatihan.",
            )
            continue
        if n % 100 == 43:
            training_curate(
                training=training,
                officer=officer,
                outcome="reject",
                checklist={**approve, "claims": False},
                reasons="Menjanjikan pekerjaan pasti setelah pelatihan.",
            )
            continue
        training_curate(training=training, officer=officer, outcome="approve", checklist=approve, reasons="")
    platforms = Partner.objects.filter(kind=Kind.PLATFORM, status=PartnerStatus.INTEGRATED).order_by("pk")
    approved = Training.objects.filter(status=TrainingStatus.APPROVED)
    for platform in platforms:
        sells_for = set(platform.cooperations.values_list("institution_id", flat=True))
        refused: dict[int, bool] = {}
        for training in approved.filter(institution_id__in=sells_for).select_related("institution"):
            institution = training.institution
            if institution.pk not in refused:
                refused[institution.pk] = (
                    listing_problem(platform=platform, institution=institution) is not None
                )
            if refused[institution.pk]:
                continue
            price = (
                training.price
                if rng.random() < 0.7
                else training.price * rng.choice((90, 95)) // 100 // 1000 * 1000
            )
            listing_create(platform=platform, training=training, price=price, actor=ACTOR)
    return approved.count()
