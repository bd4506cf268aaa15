import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from prakerja.core.models import AuditEntry
from prakerja.regions.models import Level, Region
from prakerja.regions.rules import is_rural, kind_of, level_of, parent_of
from prakerja.regions.services import regions_load

pytestmark = pytest.mark.django_db


def test_every_region_is_loaded() -> None:
    counts = {level: Region.objects.filter(level=level).count() for level in Level.values}
    assert counts == {1: 38, 2: 514, 3: 7_285, 4: 83_762}


def test_villages_have_postal_codes_and_a_rural_flag() -> None:
    village = Region.objects.get(code="3276011006")
    assert village.parent_id == "327601"
    assert len(village.postal_code) == 5
    assert village.kind == "kelurahan"
    assert village.rural is False
    assert Region.objects.filter(level=Level.VILLAGE, postal_code="").count() == 0
    assert Region.objects.filter(level=Level.VILLAGE, rural=True).exists()


def test_loading_again_writes_nothing_and_audits_nothing() -> None:
    entries = AuditEntry.objects.count()
    result = regions_load()
    assert result.written == 0
    assert result.total == 38 + 514 + 7_285 + 83_762
    assert AuditEntry.objects.count() == entries


def test_a_changed_name_is_repaired_by_loading_again() -> None:
    Region.objects.filter(code="3276").update(name="Wrong name")
    result = regions_load()
    assert result.written == 1
    assert Region.objects.get(code="3276").name == "Kota Depok"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics: PostgreSQL's ANALYZE")
def test_loading_changes_leaves_the_planner_statistics_fresh() -> None:
    with connection.cursor() as cursor:  # forget them (the test's transaction puts them back)
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = 'regions_region'::regclass")
        Region.objects.filter(code="3276").update(name="Wrong name")
        regions_load()
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'regions_region'")
        assert cursor.fetchone()[0] == len(Region._meta.concrete_fields)


def test_regions_load_command_reports_counts(capsys) -> None:
    call_command("regions", "load")
    out = capsys.readouterr().out
    assert "38 provinces" in out and "83,762 villages" in out


def test_provinces_api() -> None:
    body = Client().get("/api/v1/regions/provinces").json()
    assert len(body) == 38
    assert {"code": "32", "name": "Jawa Barat", "level": 1, "postal_code": ""} in body


def test_children_api_cascades_down_to_villages() -> None:
    client = Client()
    regencies = client.get("/api/v1/regions/32/children").json()
    assert {"code": "3276", "name": "Kota Depok", "level": 2, "postal_code": ""} in regencies
    assert all(r["code"].startswith("32") and r["level"] == 2 for r in regencies)
    districts = client.get("/api/v1/regions/3276/children").json()
    villages = client.get(f"/api/v1/regions/{districts[0]['code']}/children").json()
    assert villages and all(len(v["code"]) == 10 and v["level"] == 4 for v in villages)
    assert client.get(f"/api/v1/regions/{villages[0]['code']}/children").json() == []


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [("32", 1, None), ("3276", 2, "32"), ("327601", 3, "3276"), ("3276011006", 4, "327601")],
)
def test_code_rules(code: str, level: int, parent: str | None) -> None:
    assert level_of(code) == level
    assert parent_of(code) == parent


@pytest.mark.parametrize("bad", ["3", "327", "32760110", "ab", ""])
def test_bad_codes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        level_of(bad)


def test_kinds() -> None:
    assert kind_of("3276", "Kota Depok") == "kota"
    assert kind_of("3201", "Bogor") == "kabupaten"
    assert kind_of("910101", "Distrik") == "distrik"
    assert kind_of("3201012001", "x") == "desa" and is_rural("desa") is True
    assert is_rural("kecamatan") is None


def test_lookup_page_works_without_javascript() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    village = Region.objects.get(code="3276011006")
    page = client.get("/wilayah/", {"village_code": village.code}).content.decode()
    assert f'<dd data-testid="postal-code">{village.postal_code}</dd>' in page
    assert (
        "Enter the 10-digit code of a village"
        in client.get("/wilayah/", {"village_code": "3276"}).content.decode()
    )
    assert "does not exist" in client.get("/wilayah/", {"village_code": "9999999999"}).content.decode()


def test_village_codes_answer_for_villages_only_and_forget_when_regions_are_loaded_again() -> None:
    from prakerja.regions.selectors import forget_cached_regions, village_codes

    forget_cached_regions()
    village = Region.objects.filter(level=Level.VILLAGE).values_list("code", flat=True).first()
    district = Region.objects.filter(level=Level.DISTRICT).values_list("code", flat=True).first()
    codes = village_codes()
    assert village in codes and district not in codes and "9999999999" not in codes
    assert int(village) not in codes  # codes are text
    Region.objects.create(
        code="9999999999", name="BARU", level=Level.VILLAGE, kind="desa", parent_id=village[:6], rural=True
    )
    assert "9999999999" not in codes  # answered once per process...
    forget_cached_regions()  # ...until the regions are loaded again (regions_load forgets too)
    assert "9999999999" in village_codes()
    forget_cached_regions()


def test_village_codes_are_asked_of_the_database_once_a_regency(django_assert_num_queries) -> None:
    from prakerja.regions.selectors import forget_cached_regions, village_codes

    forget_cached_regions()
    villages = Region.objects.filter(level=Level.VILLAGE)
    bogor = list(villages.filter(code__startswith="3201").values_list("code", flat=True))
    codes = village_codes()
    with django_assert_num_queries(2):  # Kabupaten Bogor's villages, then Kota Bandung's
        assert len(bogor) > 400 and all(code in codes for code in bogor)
        assert "3273011001" in codes and "3201999999" not in codes
    assert not villages.filter(code="3201999999").exists()
    with django_assert_num_queries(0):  # not ten ASCII digits: nothing to ask
        fullwidth = "3201011001".translate({ord("0") + d: 0xFF10 + d for d in range(10)})
        assert "32.01.01.1001" not in codes and "320101100" not in codes and fullwidth not in codes
    forget_cached_regions()
