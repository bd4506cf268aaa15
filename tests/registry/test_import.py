import csv
import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F

from prakerja.core.audit import audit_verify
from prakerja.core.models import AuditEntry
from prakerja.identity.generator import COLUMNS
from prakerja.registry.models import Applicant, EligibilityDecision
from prakerja.registry.selectors import applicant_by_nik

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tmp_path) -> Path:
    path = tmp_path / "people.csv"
    call_command("people", "generate", "120", "--out", str(path), "--seed", "11")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def _write(path: Path, rows: list[dict[str, str]], columns=COLUMNS) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _import(path: Path, capsys, *extra: str) -> dict[str, int]:
    call_command("applicants", "import", str(path), "--json", *extra)
    return json.loads(capsys.readouterr().out)


def test_import_registers_everyone_once(people, capsys) -> None:
    assert _import(people, capsys) == {"read": 120, "imported": 120, "rejected": 0, "duplicates": 0}
    assert Applicant.objects.count() == 120
    assert EligibilityDecision.objects.filter(cause="import").count() == 120
    agreeing = EligibilityDecision.objects.filter(
        applicant__eligible=F("eligible"),
        applicant__failing_rules=F("failing_rules"),
        applicant__ruleset=F("ruleset"),
        applicant__decided_at=F("decided_at"),
    )
    assert agreeing.values("applicant").distinct().count() == 120  # each first decision is its own
    assert Applicant.objects.values("pseudonym").distinct().count() == 120  # drawn by PostgreSQL there
    assert _import(people, capsys) == {"read": 120, "imported": 0, "rejected": 0, "duplicates": 120}
    assert Applicant.objects.count() == 120
    assert audit_verify().ok


def test_nik_is_encrypted_at_rest_and_found_by_blind_index(people, capsys) -> None:
    _import(people, capsys)
    row = _rows(people)[5]
    applicant = applicant_by_nik(row["nik"])
    assert applicant is not None and applicant.full_name == row["full_name"]
    assert applicant.nik == row["nik"] and applicant.kk == row["kk"] and applicant.phone == row["phone"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nik, kk, phone, email FROM {Applicant._meta.db_table} WHERE id = %s", [applicant.pk]
        )
        stored = cursor.fetchone()
    for clear, cipher in zip((row["nik"], row["kk"], row["phone"], row["email"]), stored, strict=True):
        assert clear not in cipher
    assert row["nik"] not in json.dumps(list(AuditEntry.objects.values_list("after", flat=True)))


def test_a_run_cut_short_ends_in_the_same_state_when_run_again(people, tmp_path, capsys) -> None:
    rows = _rows(people)
    _import(_write(tmp_path / "first-half.csv", rows[:70]), capsys)
    # On PostgreSQL the batch's straight COPY fails on the 70 already registered; it is written again through
    # the staging table, and none of the failed attempt's rows (or their decisions) remain.
    assert _import(people, capsys) == {"read": 120, "imported": 50, "rejected": 0, "duplicates": 70}
    assert Applicant.objects.count() == 120
    assert EligibilityDecision.objects.count() == 120
    assert EligibilityDecision.objects.values("applicant").distinct().count() == 120


def test_malformed_rows_go_to_the_errors_file_and_are_not_imported(people, tmp_path, capsys) -> None:
    rows = _rows(people)[:6]
    rows[1] = {**rows[1], "birth_date": "1990-13-01"}
    born = rows[2]["birth_date"]
    rows[2] = {**rows[2], "birth_date": born[:8] + ("01" if born[8:] != "01" else "02")}
    rows[3] = {**rows[3], "sex": "X", "education": "sd-ish"}
    rows[4] = {**rows[4], "village_code": "9999999999"}
    rows.append(dict(rows[0]))
    errors = tmp_path / "errors.csv"
    result = _import(_write(tmp_path / "bad.csv", rows), capsys, "--errors", str(errors))
    assert result == {"read": 7, "imported": 2, "rejected": 5, "duplicates": 0}
    reported = {(r["line"], r["column"], r["code"]) for r in csv.DictReader(errors.open())}
    assert ("3", "birth_date", "invalid") in reported
    assert ("4", "birth_date", "disagrees_with_nik") in reported
    assert {("5", "sex", "invalid"), ("5", "education", "invalid")} <= reported
    assert ("6", "village_code", "unknown") in reported
    assert ("8", "nik", "duplicate_in_file") in reported
    texts = list(csv.DictReader(errors.open()))
    disagree = next(r for r in texts if r["code"] == "disagrees_with_nik")
    assert "NIK" in disagree["pesan"] and "does not match the NIK" in disagree["message"]
    assert disagree["pesan"] != disagree["message"]
    assert all(rows[0]["nik"] not in r["pesan"] + r["message"] for r in texts)


def test_dotted_village_codes_are_accepted(people, tmp_path, capsys) -> None:
    row = _rows(people)[0]
    code = row["village_code"]
    row["village_code"] = f"{code[:2]}.{code[2:4]}.{code[4:6]}.{code[6:]}"
    assert _import(_write(tmp_path / "dotted.csv", [row]), capsys)["imported"] == 1
    assert Applicant.objects.get().village_id == code


def test_missing_columns_and_wrong_encoding_import_nothing(people, tmp_path) -> None:
    rows = _rows(people)
    with pytest.raises(CommandError, match=r"lacks the column.*kk, full_name"):
        call_command("applicants", "import", str(_write(tmp_path / "cols.csv", rows, ["nik", "sex"])))
    latin = tmp_path / "latin.csv"
    text = people.read_text().splitlines()
    text[40] = text[40].replace(rows[39]["full_name"], "Sí Ñoño")
    latin.write_bytes("\n".join(text).encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8 text: the first undecodable byte is on line 41"):
        call_command("applicants", "import", str(latin))
    assert Applicant.objects.count() == 0


def test_a_quote_left_open_or_a_value_too_long_imports_nothing(people, tmp_path) -> None:
    """Either would make the CSV reader swallow or stop at the rows after it: the whole file is refused."""
    text = people.read_text().splitlines()
    row = _rows(people)[29]
    opened = tmp_path / "quote.csv"
    opened.write_text(
        "\n".join([*text[:30], text[30].replace(row["full_name"], '"' + row["full_name"]), *text[31:]])
    )
    with pytest.raises(CommandError, match=r"(?s)Baris 31 .*Line 31 of .* runs over 91 lines"):
        call_command("applicants", "import", str(opened))
    long = tmp_path / "long.csv"
    name = _rows(people)[59]["full_name"]
    long.write_text("\n".join([*text[:60], text[60].replace(name, "B" * 200_000), *text[61:]]))
    with pytest.raises(CommandError, match=r"Line 61 of .* cannot be read as CSV \(field larger"):
        call_command("applicants", "import", str(long))
    assert Applicant.objects.count() == 0


def test_an_errors_file_that_cannot_be_written_is_refused_before_anything_is_imported(
    people, tmp_path
) -> None:
    before = people.read_bytes()
    with pytest.raises(
        CommandError, match=r"(?s)Berkas kesalahan .*The errors file .* is the file being imported"
    ):
        call_command("applicants", "import", str(people), "--errors", str(people))
    assert people.read_bytes() == before  # not overwritten by the errors report
    with pytest.raises(CommandError, match=r"cannot be written \(No such file or directory\); nothing was"):
        call_command("applicants", "import", str(people), "--errors", str(tmp_path / "no" / "errors.csv"))
    assert Applicant.objects.count() == 0


def test_a_stopped_import_says_how_to_finish(people, monkeypatch) -> None:
    from prakerja.registry.management.commands import applicants

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(applicants, "applicants_import", interrupted)
    with pytest.raises(CommandError, match=r"(?s)Impor dihentikan.*run the same command again") as stopped:
        call_command("applicants", "import", str(people))
    assert stopped.value.returncode == 130


def test_a_nik_typed_into_another_column_is_masked_in_the_errors_file(people, tmp_path, capsys) -> None:
    rows = _rows(people)[:2]
    rows[0]["village_code"], rows[1]["village_code"] = rows[0]["nik"], ""
    errors = tmp_path / "errors.csv"
    assert _import(_write(tmp_path / "bad.csv", rows), capsys, "--errors", str(errors))["rejected"] == 2
    report = errors.read_text()
    assert rows[0]["nik"] not in report and f"************{rows[0]['nik'][-4:]}" in report
    assert "The village code is required." in report and "Kode desa/kelurahan wajib diisi." in report


def test_a_file_that_does_not_exist(tmp_path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("applicants", "import", str(tmp_path / "nope.csv"))


def test_the_summary_counts_only_what_this_run_imported(people, capsys) -> None:
    call_command("applicants", "import", str(people))
    first = capsys.readouterr().out
    assert "120 imported (120 eligible)" in first
    call_command("applicants", "import", str(people))
    assert "0 imported (0 eligible), 0 rejected, 120 already registered" in capsys.readouterr().out


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the binary COPY exists only on PostgreSQL (SQLite inserts batches): runs in the PostgreSQL pass",
)
def test_the_binary_copy_names_each_column_s_type() -> None:
    """On PostgreSQL applicants and their decisions are written by a binary COPY: each value travels as its
    column's type."""
    from prakerja.registry.services import _COLUMNS, _COPY_TYPES, _DECISION_COLUMNS, _DECISION_TYPES

    def types_of(table: str) -> dict[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, atttypid::regtype::text FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0",
                [table],
            )
            return dict(cursor.fetchall())

    spelled = {"varchar": "character varying", "bool": "boolean", "int8": "bigint",
               "timestamptz": "timestamp with time zone"}  # fmt: skip
    applicants, decisions = types_of("registry_applicant"), types_of("registry_eligibilitydecision")
    assert [spelled.get(t, t) for t in _COPY_TYPES] == [applicants[c] for c in _COLUMNS]
    assert [spelled.get(t, t) for t in _DECISION_TYPES] == [
        decisions[c] for c in _DECISION_COLUMNS.split(", ")
    ]


def test_batch_helpers_give_what_the_one_value_helpers_give() -> None:
    from prakerja.core import crypto
    from prakerja.core.audit import rows_digest
    from prakerja.identity.selectors import kk_index, kk_indexes, nik_index, nik_indexes

    values = ["3273014501990003", " 3273014501990004 ", "3273011203150001"]
    assert nik_indexes(values) == [nik_index(v) for v in values]
    assert kk_indexes(values) == [kk_index(v) for v in values]
    tokens = crypto.encrypt_many([*values, "x@example.id"])
    assert [crypto.decrypt(t) for t in tokens] == [*values, "x@example.id"]
    assert len({t.split(":")[1][:16] for t in tokens}) == len(tokens)  # a nonce each
    rows = ["ab12", 'a"b', "é", "", 5, {"b": 1, "a": None}]
    by_json = hashlib.sha256(
        b"".join(json.dumps(r, sort_keys=True, default=str).encode() + b"\n" for r in rows)
    )
    assert rows_digest(rows) == by_json.hexdigest()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="only PostgreSQL gets varchar_pattern_ops (`_like`) indexes: runs in the PostgreSQL pass",
)
def test_the_applicant_table_has_no_index_for_like_queries() -> None:
    """Every new applicant goes into each index; none serves only LIKE 'prefix%', which nothing runs here."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [Applicant._meta.db_table])
        definitions = [d for (d,) in cursor.fetchall()]
    assert len(definitions) == 8
    assert not [d for d in definitions if "pattern_ops" in d]
    assert any("UNIQUE" in d and "(nik_index)" in d for d in definitions)


def test_each_problem_is_told_once_and_lines_of_commas_are_skipped(people, tmp_path, capsys) -> None:
    rows = _rows(people)[:3]
    rows[0]["nik"] = rows[0]["nik"][:15] + "O"  # a letter O for a zero: 16 characters, not all digits
    rows[1]["sex"] = "X"
    rows[2]["full_name"] = "B" * 151
    path = _write(tmp_path / "bad.csv", rows)
    path.write_text(path.read_text() + ",,,,,,,,,,,\r\n")  # as a spreadsheet leaves at the end
    errors = tmp_path / "errors.csv"
    assert _import(path, capsys, "--errors", str(errors)) == {
        "read": 3, "imported": 0, "rejected": 3, "duplicates": 0
    }  # fmt: skip
    found = [(r["line"], r["column"], r["code"], r["message"]) for r in csv.DictReader(errors.open())]
    assert found == [
        ("2", "nik", "not_16_digits", "NIK must be exactly 16 digits (0-9), with no other character."),
        ("3", "sex", "invalid", "Sex must be L (male) or P (female)."),
        ("4", "full_name", "too_long", "The full name must be at most 150 characters long."),
    ]


def test_a_column_named_twice_or_columns_split_by_semicolons_import_nothing(people, tmp_path) -> None:
    rows = _rows(people)
    with pytest.raises(CommandError, match=r"names the column\(s\) nik more than once"):
        call_command("applicants", "import", str(_write(tmp_path / "twice.csv", rows, [*COLUMNS, "nik"])))
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(people.read_text().replace(",", ";"))
    with pytest.raises(CommandError, match=r"(?s)titik koma.*separates its columns with semicolons"):
        call_command("applicants", "import", str(semicolons))
    assert Applicant.objects.count() == 0


def test_a_phone_number_is_ascii_digits(people, tmp_path, capsys) -> None:
    rows = _rows(people)[:2]
    rows[0]["phone"] = "٠٨١٢٣٤٥٦٧٨٩"  # Arabic-Indic digits: isdigit() yet not a number a gateway can dial
    rows[1]["phone"] = "+628123456789012"  # + and 15 digits (E.164's longest)
    errors = tmp_path / "errors.csv"
    assert _import(_write(tmp_path / "phones.csv", rows), capsys, "--errors", str(errors))["imported"] == 1
    assert [(r["line"], r["column"]) for r in csv.DictReader(errors.open())] == [("2", "phone")]


def test_codes_are_read_whatever_their_case(people, tmp_path, capsys) -> None:
    row = _rows(people)[0]
    row.update(sex=row["sex"].lower(), education=row["education"].upper(), rural=row["rural"].upper())
    row["employment_status"] = row["employment_status"].capitalize()
    assert _import(_write(tmp_path / "cases.csv", [row]), capsys)["imported"] == 1
    applicant = Applicant.objects.get()
    assert (applicant.sex, applicant.education) == (row["sex"].upper(), row["education"].lower())
    assert applicant.employment_status == row["employment_status"].lower()
