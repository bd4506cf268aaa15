"""Time is stored in UTC and shown in the province's own zone: WIB, WITA or WIT."""

from datetime import datetime
from zoneinfo import ZoneInfo

WIB = ("WIB", ZoneInfo("Asia/Jakarta"))
WITA = ("WITA", ZoneInfo("Asia/Makassar"))
WIT = ("WIT", ZoneInfo("Asia/Jayapura"))

# Kemendagri province codes by zone: Bali, Nusa Tenggara, Kalimantan Selatan/Timur/Utara and
# Sulawesi keep WITA; Maluku and Papua keep WIT; the rest of the country keeps WIB.
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96", "97"}


def zone_for_province(province_code: str | None) -> tuple[str, ZoneInfo]:
    """The (label, zone) of a province, by the first two digits of any region code; WIB when unknown."""
    prefix = (province_code or "")[:2]
    if prefix in _WITA_PROVINCES:
        return WITA
    if prefix in _WIT_PROVINCES:
        return WIT
    return WIB


def local_time(moment: datetime, province_code: str | None = None) -> str:
    """An aware datetime as '24-11-2026 19:30 WITA' in the province's zone."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: store and pass aware UTC datetimes")
    label, zone = zone_for_province(province_code)
    return f"{moment.astimezone(zone):%d-%m-%Y %H:%M} {label}"
