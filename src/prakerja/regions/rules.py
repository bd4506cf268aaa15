"""Pure rules about region codes and the kinds of region."""

import re

CODE_LENGTHS = {1: 2, 2: 4, 3: 6, 4: 10}
_KOTA = re.compile(r"kota\b", re.IGNORECASE)


def undotted(code: str) -> str:
    """'32.76.01.1001' -> '3276011001'."""
    return code.replace(".", "")


def level_of(code: str) -> int:
    """The level of an undotted code by its length; ValueError when the length fits no level."""
    for level, length in CODE_LENGTHS.items():
        if len(code) == length and code.isdigit():
            return level
    raise ValueError(f"not a region code: {code!r}")


def parent_of(code: str) -> str | None:
    level = level_of(code)
    return code[: CODE_LENGTHS[level - 1]] if level > 1 else None


def kind_of(code: str, name: str) -> str:
    """provinsi, kabupaten/kota, kecamatan/distrik (Papua), kelurahan/desa/desa_adat."""
    level = level_of(code)
    if level == 1:
        return "provinsi"
    if level == 2:
        return "kota" if _KOTA.match(name) else "kabupaten"
    if level == 3:
        return "distrik" if int(code[:2]) >= 91 else "kecamatan"
    return {"1": "kelurahan", "3": "desa_adat"}.get(code[6], "desa")


def is_rural(kind: str) -> bool | None:
    """A desa is rural and a kelurahan urban; levels above villages have no such flag."""
    return {"kelurahan": False, "desa": True, "desa_adat": True}.get(kind)
