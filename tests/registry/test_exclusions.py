import csv
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from prakerja.core.errors import Conflict, InvalidInput
from prakerja.registry.models import Applicant, EligibilityDecision, ExclusionEntry, ExclusionList
from prakerja.registry.selectors import applicant_by_nik, counts_by_failing_rule
from prakerja.registry.services import exclusion_list_remove, exclusion_list_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def niks(tmp_path) -> list[str]:
    path = tmp_path / "people.csv"
    call_command("people", "generate", "40", "--out", str(path), "--seed", "3")
    call_command("applicants", "import", str(path))
    return [row["nik"] for row in csv.DictReader(path.open())]


def _upload(kind: str, niks: list[str], as_of: date = date(2026, 11, 1), source: str = "BKN"):
    errors: list[int] = []
    result = exclusion_list_upload(
        kind=kind,
        source=source,
        as_of=as_of,
        niks=list(enumerate(niks, 1)),
        actor="system:test",
        on_error=lambda line, problems: errors.append(line),
    )
    return result, errors


def test_upload_makes_listed_applicants_ineligible_with_the_reason(niks) -> None:
    result, errors = _upload("civil_servant", [*niks[:5], "9999999999999999", "12345"])
    assert errors == [7]
    assert result.entries == 6 and result.rejected == 1
    assert result.recheck.checked == 5 and result.recheck.changed == 5
    applicant = applicant_by_nik(niks[0])
    assert applicant.eligible is False
    assert [r.code for r in applicant.reasons] == ["civil_servant"]
    assert (
        EligibilityDecision.objects.filter(applicant=applicant)
        .order_by("-id")
        .first()
        .cause.startswith("list:")
    )
    assert applicant_by_nik(niks[10]).eligible is True
    assert counts_by_failing_rule()["civil_servant"] == 5


def test_lists_hold_only_blind_indexes(niks) -> None:
    result, _ = _upload("student", niks[:3])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ExclusionEntry._meta.db_table}")
        dump = repr(cursor.fetchall())
    assert all(nik not in dump for nik in niks[:3])
    assert ExclusionEntry.objects.filter(exclusion_list=result.exclusion_list).count() == 3


def test_a_newer_list_from_the_same_source_replaces_the_older(niks) -> None:
    first, _ = _upload("blacklist", niks[:4], as_of=date(2026, 1, 1))
    second, _ = _upload("blacklist", niks[2:6], as_of=date(2026, 6, 1))
    first.exclusion_list.refresh_from_db()
    assert first.exclusion_list.active is False
    assert [applicant_by_nik(n).eligible for n in niks[:7]] == [True, True, False, False, False, False, True]
    assert second.recheck.checked == 6


def test_removing_a_list_re_checks_everyone_on_it(niks) -> None:
    result, _ = _upload("wage_subsidy", niks[:3])
    _upload("blacklist", niks[:1])
    removed = exclusion_list_remove(list_id=result.exclusion_list.pk, actor="system:test")
    assert removed.checked == 3 and removed.changed == 3
    assert applicant_by_nik(niks[0]).eligible is False
    assert [r.code for r in applicant_by_nik(niks[0]).reasons] == ["blacklist"]
    assert applicant_by_nik(niks[1]).eligible is True


def test_the_same_list_twice_and_an_unknown_kind_are_refused_whole(niks) -> None:
    _upload("police", niks[:2])
    with pytest.raises(Conflict):
        _upload("police", niks[2:4])
    with pytest.raises(InvalidInput):
        _upload("astronaut", niks[:2])
    assert ExclusionList.objects.count() == 1
    assert Applicant.objects.filter(eligible=False).count() == 2


def test_an_imported_applicant_already_on_a_list_is_ineligible_at_once(tmp_path) -> None:
    path = tmp_path / "later.csv"
    call_command("people", "generate", "5", "--out", str(path), "--seed", "9")
    nik = next(csv.DictReader(path.open()))["nik"]
    _upload("soldier", [nik])
    call_command("applicants", "import", str(path))
    assert [r.code for r in applicant_by_nik(nik).reasons] == ["soldier"]


def test_exclusions_command(niks, tmp_path, capsys) -> None:
    path = tmp_path / "list.csv"
    path.write_text("nik\n" + "\n".join(niks[:3]) + "\nnot-a-nik\n")
    call_command(
        "exclusions", "upload", str(path), "--kind", "legislator", "--source", "KPU", "--as-of", "2026-10-01"
    )
    out = capsys.readouterr().out
    assert "3 NIKs stored" in out and "1 lines rejected;" in out and "3 decisions changed" in out
    assert "3 NIK disimpan" in out and "line 5: A NIK must be exactly 16 digits" in out
    with pytest.raises(CommandError, match="already uploaded"):
        call_command(
            "exclusions",
            "upload",
            str(path),
            "--kind",
            "legislator",
            "--source",
            "KPU",
            "--as-of",
            "2026-10-01",
        )
    list_id = ExclusionList.objects.get().pk
    call_command("exclusions", "remove", str(list_id))
    assert "3 decisions changed" in capsys.readouterr().out


def test_the_exclusion_lists_page(niks, staff_client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    officer = staff_client("selection_officer")
    upload = SimpleUploadedFile("bkn.csv", ("nik\n" + "\n".join(niks[:4]) + "\nbad\n").encode())
    response = officer.post(
        "/pmo/daftar-pengecualian/",
        {"file": upload, "kind": "civil_servant", "source": "BKN", "as_of": "2026-10-01"},
        follow=True,
    )
    assert (
        "4 NIKs stored, 1 lines rejected; 4 applicants re-checked, 4 decisions changed."
        in response.content.decode()
    )
    assert applicant_by_nik(niks[0]).eligible is False
    latin = SimpleUploadedFile("x.csv", "nik\nJosé\n".encode("latin-1"))
    page = officer.post(
        "/pmo/daftar-pengecualian/",
        {"file": latin, "kind": "police", "source": "Polri", "as_of": "2026-10-01"},
    ).content.decode()
    assert "not UTF-8" in page
    auditor = staff_client("auditor")
    assert auditor.get("/pmo/daftar-pengecualian/").status_code == 200
    list_id = ExclusionList.objects.get(kind="civil_servant").pk
    assert auditor.post("/pmo/daftar-pengecualian/", {"remove": str(list_id)}).status_code == 403
    officer.post("/pmo/daftar-pengecualian/", {"remove": str(list_id)})
    assert applicant_by_nik(niks[0]).eligible is True


def test_applicants_decided_under_an_older_rule_set_are_decided_again_in_full(niks) -> None:
    from prakerja.registry.services import ruleset_create

    _upload("student", niks[:2])
    newer = ruleset_create(params={"excluded_lists": ["blacklist"]}, note="students may join")
    result, _ = _upload("blacklist", niks[1:3])
    first, second, third = (applicant_by_nik(n) for n in niks[:3])
    assert second.ruleset_id == third.ruleset_id == newer.pk
    # Not on a changed list: keeps its earlier decision until everyone is decided again (at a wave's close).
    assert first.ruleset_id != newer.pk and not first.eligible
    assert [r.code for r in second.reasons] == ["blacklist"]  # the student rule no longer applies
    assert [r.code for r in third.reasons] == ["blacklist"]
    assert result.recheck.checked == 2


def test_a_re_check_in_full_agrees_with_the_pure_rules(niks) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from prakerja.registry import rules
    from prakerja.registry.selectors import list_memberships
    from prakerja.registry.services import applicants_recheck, ruleset_create

    _upload("student", niks[:6])
    _upload("blacklist", niks[3:9], source="Polri")
    people = [applicant_by_nik(n) for n in niks[:14]]
    today = timezone.localdate()
    eighteen = today.replace(year=today.year - 18) if (today.month, today.day) != (2, 29) else today
    varied = {
        0: {"citizen": None},
        1: {"citizen": False},
        2: {"birth_date": eighteen},  # 18 today
        3: {"birth_date": eighteen + timedelta(days=1)},  # 18 tomorrow
        4: {"waived_rules": rules.RULE_BIT["student"]},
        5: {"waived_rules": rules.RULE_BIT["blacklist"] | rules.RULE_BIT["under_age"]},
        6: {"birth_date": today.replace(year=today.year - 41) - timedelta(days=1)},  # over 40
        7: {"citizen": False, "birth_date": eighteen + timedelta(days=2)},
    }
    for position, fields in varied.items():
        Applicant.objects.filter(pk=people[position].pk).update(**fields)
    ruleset = ruleset_create(params={"max_age": 40, "excluded_lists": ["student", "blacklist"]}, note="test")
    result = applicants_recheck(indexes=[p.nik_index for p in people], cause="test", actor="system:test")
    assert result.checked == len(people)
    found = list(Applicant.objects.filter(pk__in=[p.pk for p in people]))
    lists = list_memberships(a.nik_index for a in found)
    masks = []
    for applicant in found:
        facts = rules.Facts(
            birth_date=applicant.birth_date,
            citizen=applicant.citizen,
            lists=lists.get(applicant.nik_index, frozenset()),
            waived=applicant.waived_rules,
        )
        expected = rules.decide(facts, params=ruleset.params, today=today).mask
        masks.append(expected)
        assert (applicant.failing_rules, applicant.eligible, applicant.ruleset_id) == (
            expected,
            expected == 0,
            ruleset.pk,
        )
    assert len(set(masks)) >= 5  # the cases above do reach different outcomes
    assert EligibilityDecision.objects.filter(cause="test").count() == result.changed == len(people)
    again = applicants_recheck(indexes=[p.nik_index for p in people], cause="test", actor="system:test")
    assert (again.checked, again.changed) == (len(people), 0)


def test_a_failed_re_check_leaves_nothing_half_written(niks, monkeypatch) -> None:
    from prakerja.core.models import AuditEntry
    from prakerja.registry import services

    original = services.audit_record

    def failing(**kwargs):
        if kwargs["action"] == "registry.recheck_batch":
            raise RuntimeError("the audit trail is unavailable")
        return original(**kwargs)

    monkeypatch.setattr(services, "audit_record", failing)
    entries, decisions = AuditEntry.objects.count(), EligibilityDecision.objects.count()
    with pytest.raises(RuntimeError):
        _upload("civil_servant", niks[:5])
    assert not ExclusionList.objects.exists() and not ExclusionEntry.objects.exists()
    assert not Applicant.objects.filter(eligible=False).exists()
    assert (AuditEntry.objects.count(), EligibilityDecision.objects.count()) == (entries, decisions)


def test_an_extended_list_s_digest_is_that_of_all_its_entries_sorted(niks) -> None:
    from prakerja.core.audit import rows_digest
    from prakerja.core.models import AuditEntry
    from prakerja.identity.selectors import nik_index
    from prakerja.registry.services import exclusion_list_extend

    indexes = [nik_index(n) for n in niks[:9]]
    # A blacklist: extending a list of former recipients re-checks their families too (tested below).
    first = exclusion_list_extend(kind="blacklist", source="test", indexes=indexes[3:7], actor="test")
    listed = ExclusionList.objects.get(kind="blacklist")
    assert (listed.entries_count, listed.digest) == (4, rows_digest(sorted(indexes[3:7])))
    assert first.checked == first.changed == 4
    # The same day again: the list grows, with some already on it; on PostgreSQL the server digests it.
    again = exclusion_list_extend(kind="blacklist", source="test", indexes=indexes[:5], actor="test")
    listed.refresh_from_db()
    assert (listed.entries_count, listed.digest) == (7, rows_digest(sorted(indexes[:7])))
    assert again.checked == 5 and again.changed == 3
    extended = AuditEntry.objects.filter(action="registry.exclusion_list_extended").order_by("id")
    assert [e.after["digest"] for e in extended] == [
        rows_digest(sorted(indexes[3:7])),
        rows_digest(sorted(indexes[:5])),
    ]
    # An entry that is no blind index (only hexadecimal ones are digested by the server) is still digested
    # the way rows_digest does it.
    ExclusionEntry.objects.create(exclusion_list=listed, nik_index="not-a-blind-index")
    exclusion_list_extend(kind="blacklist", source="test", indexes=indexes[7:9], actor="test")
    listed.refresh_from_db()
    assert listed.digest == rows_digest(sorted([*indexes, "not-a-blind-index"]))
    assert listed.entries_count == 10


def test_a_list_without_a_source_from_the_future_or_without_a_valid_nik_is_refused(niks) -> None:
    from datetime import timedelta

    from django.utils import timezone

    with pytest.raises(InvalidInput, match="list_source_required"):
        _upload("student", niks[:3], source="  ")
    with pytest.raises(InvalidInput, match="list_date_in_future"):
        _upload("student", niks[:3], as_of=timezone.localdate() + timedelta(days=1))
    with pytest.raises(InvalidInput, match="list_without_nik") as empty:
        _upload("student", ["nik", "12345", ""])
    assert "remove it instead" in empty.value.detail
    assert not ExclusionList.objects.exists()
    assert _upload("student", niks[:1], as_of=timezone.localdate())[0].entries == 1  # today is fine
