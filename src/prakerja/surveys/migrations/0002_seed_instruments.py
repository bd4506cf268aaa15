"""The three survey instruments of the programme and the survey schedule of each scheme that pays for surveys
(semi-bansos-2020: three surveys; normal-2022: two; normal-2020: none)."""

from django.db import migrations


def _choice(code, text_id, text_en, options, required=True):
    return {
        "code": code,
        "kind": "choice",
        "text_id": text_id,
        "text_en": text_en,
        "required": required,
        "options": [{"value": v, "label_id": i, "label_en": e} for v, i, e in options],
    }


def _scale(code, text_id, text_en):
    return {"code": code, "kind": "scale", "text_id": text_id, "text_en": text_en, "required": True}


def _text(code, text_id, text_en):
    return {"code": code, "kind": "text", "text_id": text_id, "text_en": text_en, "required": False}


EMPLOYMENT = _choice(
    "employment",
    "Apa status pekerjaan Anda saat ini?",
    "What is your current employment status?",
    [
        ("working", "Bekerja sebagai karyawan, buruh atau pekerja bergaji", "Working for a wage or salary"),
        ("business", "Berwirausaha atau menjalankan usaha sendiri", "Self-employed or running a business"),
        ("looking", "Belum bekerja dan sedang mencari pekerjaan", "Not working, looking for work"),
        (
            "not_looking",
            "Belum bekerja dan tidak sedang mencari pekerjaan",
            "Not working, not looking for work",
        ),
    ],
)
INCOME = _choice(
    "income",
    "Berapa pendapatan Anda per bulan saat ini (dari pekerjaan atau usaha)?",
    "What is your monthly income now (from work or business)?",
    [
        ("none", "Tidak ada pendapatan", "No income"),
        ("below_1m", "Kurang dari Rp1.000.000", "Less than Rp1,000,000"),
        ("1m_3m", "Rp1.000.000 sampai Rp3.000.000", "Rp1,000,000 to Rp3,000,000"),
        ("3m_5m", "Rp3.000.000 sampai Rp5.000.000", "Rp3,000,000 to Rp5,000,000"),
        ("above_5m", "Lebih dari Rp5.000.000", "More than Rp5,000,000"),
    ],
)
COMPETENCE = _scale(
    "competence",
    "Seberapa besar pelatihan meningkatkan kompetensi Anda? (1 = tidak sama sekali, 5 = sangat besar)",
    "How much did the training improve your competence? (1 = not at all, 5 = very much)",
)
SATISFACTION = _scale(
    "satisfaction",
    "Seberapa puas Anda dengan Program Kartu Prakerja? (1 = sangat tidak puas, 5 = sangat puas)",
    "How satisfied are you with the Prakerja programme? (1 = very dissatisfied, 5 = very satisfied)",
)
COMMENT = _text(
    "comment",
    "Saran atau komentar Anda untuk program ini (boleh dikosongkan)",
    "Your suggestions or comments on the programme (optional)",
)

INSTRUMENTS = [
    {
        "code": "after-training",
        "title_id": "Survei setelah pelatihan",
        "title_en": "Survey after the training",
        "questions": [
            EMPLOYMENT,
            INCOME,
            COMPETENCE,
            _choice(
                "training_relevant",
                "Apakah pelatihan yang Anda ikuti sesuai dengan pekerjaan atau usaha yang Anda inginkan?",
                "Was the training relevant to the work or business you want?",
                [
                    ("yes", "Ya, sesuai", "Yes"),
                    ("partly", "Sebagian", "Partly"),
                    ("no", "Tidak sesuai", "No"),
                ],
            ),
            SATISFACTION,
            COMMENT,
        ],
    },
    {
        "code": "after-incentive",
        "title_id": "Survei setelah insentif",
        "title_en": "Survey after the incentive",
        "questions": [
            EMPLOYMENT,
            INCOME,
            _choice(
                "incentive_use",
                "Untuk apa sebagian besar insentif Anda digunakan?",
                "What did you spend most of the incentive on?",
                [
                    (
                        "daily_needs",
                        "Kebutuhan sehari-hari (makanan, listrik, air)",
                        "Daily needs (food, power, water)",
                    ),
                    ("business_capital", "Modal usaha", "Capital for a business"),
                    ("job_search", "Biaya mencari kerja", "Costs of looking for work"),
                    ("debt", "Membayar utang", "Paying debts"),
                    ("savings", "Ditabung", "Savings"),
                    ("other", "Lainnya", "Other"),
                ],
            ),
            COMPETENCE,
            SATISFACTION,
            COMMENT,
        ],
    },
    {
        "code": "follow-up",
        "title_id": "Survei lanjutan",
        "title_en": "Follow-up survey",
        "questions": [
            EMPLOYMENT,
            INCOME,
            _choice(
                "skills_used",
                "Apakah Anda menggunakan keterampilan dari pelatihan dalam pekerjaan atau usaha Anda?",
                "Do you use the skills from the training in your work or business?",
                [
                    ("often", "Sering", "Often"),
                    ("sometimes", "Kadang-kadang", "Sometimes"),
                    ("never", "Tidak pernah", "Never"),
                    ("no_work", "Belum bekerja atau berusaha", "Not working or in business yet"),
                ],
            ),
            COMPETENCE,
            SATISFACTION,
            COMMENT,
        ],
    },
]

# scheme -> [(instrument, days after the first completed training, days open)]
SCHEDULE = {
    "semi-bansos-2020": [("after-training", 0, 30), ("after-incentive", 30, 30), ("follow-up", 120, 30)],
    "normal-2022": [("after-training", 0, 30), ("follow-up", 90, 30)],
}


def seed(apps, schema_editor):
    Instrument = apps.get_model("surveys", "Instrument")
    ScheduleItem = apps.get_model("surveys", "ScheduleItem")
    Scheme = apps.get_model("waves", "Scheme")
    instruments = {}
    for data in INSTRUMENTS:
        instruments[data["code"]], _ = Instrument.objects.update_or_create(
            code=data["code"], defaults={k: v for k, v in data.items() if k != "code"}
        )
    for scheme_code, items in SCHEDULE.items():
        scheme = Scheme.objects.filter(code=scheme_code).first()
        if scheme is None:
            continue
        for sequence, (instrument, days, open_days) in enumerate(items, start=1):
            ScheduleItem.objects.update_or_create(
                scheme=scheme,
                sequence=sequence,
                defaults={
                    "instrument": instruments[instrument],
                    "days_after_completion": days,
                    "open_days": open_days,
                },
            )


def unseed(apps, schema_editor):
    ScheduleItem = apps.get_model("surveys", "ScheduleItem")
    Instrument = apps.get_model("surveys", "Instrument")
    ScheduleItem.objects.filter(scheme__code__in=list(SCHEDULE)).delete()
    Instrument.objects.filter(code__in=[i["code"] for i in INSTRUMENTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial"), ("waves", "0002_seed_schemes")]
    operations = [migrations.RunPython(seed, unseed)]
