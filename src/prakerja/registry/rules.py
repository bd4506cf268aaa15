"""Pure rules of the registry: reading an applicant row, the NIK against the profile, and eligibility.

Every failing rule has a stable code, a bit in the applicant's `failing_rules` mask, and a message in
Indonesian and English; a decision lists every failing rule, not only the first.
"""

import random
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any, NamedTuple

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import COLUMNS, Check, Problem, check_kk, check_nik, kk_issue_date, nik_carries

EDUCATION = ("none", "sd", "smp", "sma", "diploma", "s1", "s2", "s3")
EMPLOYMENT = ("unemployed", "laid_off", "worker", "micro_entrepreneur")
BOOLEANS = {"true": True, "false": False}

# Exclusion-list kinds, each the rule that an applicant on such a list fails.
LIST_RULES: dict[str, Promise] = {
    "civil_servant": _("Civil servants (ASN) cannot receive the programme."),
    "soldier": _("Members of the armed forces (TNI) cannot receive the programme."),
    "police": _("Members of the police (Polri) cannot receive the programme."),
    "village_official": _("Village heads and village officials cannot receive the programme."),
    "legislator": _("Members of a legislature (DPR, DPD, DPRD) cannot receive the programme."),
    "soe_board": _("Directors and commissioners of state-owned companies cannot receive the programme."),
    "student": _("People in formal education cannot receive the programme."),
    "wage_subsidy": _("People receiving another wage subsidy or social aid cannot receive the programme."),
    "former_recipient": _("The programme is received only once in a lifetime, and it was received before."),
    "blacklist": _("This person is barred from the programme (blacklist)."),
}
OTHER_RULES: dict[str, Promise] = {
    "under_age": _("Applicants must be at least %(min_age)d years old."),
    "over_age": _("Applicants must be at most %(max_age)d years old."),
    "not_citizen": _("Only Indonesian citizens can receive the programme."),
    "kk_limit": _("At most %(max_per_kk)d people of one family card (KK) can receive the programme."),
}
# The bit of each rule in `failing_rules`: append only, never reorder (stored in the database).
RULE_CODES = (
    "under_age", "over_age", "not_citizen", "kk_limit", "civil_servant", "soldier", "police",
    "village_official", "legislator", "soe_board", "student", "wage_subsidy", "former_recipient", "blacklist",
)  # fmt: skip
RULE_BIT = {code: 1 << position for position, code in enumerate(RULE_CODES)}
DEFAULT_PARAMS: dict[str, Any] = {
    "min_age": 18,
    "max_age": None,
    "max_per_kk": 2,
    "excluded_lists": list(LIST_RULES),
}


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        template = LIST_RULES.get(self.code) or OTHER_RULES[self.code]
        return str(template) % self.params if self.params else str(template)


@dataclass(frozen=True)
class Decision:
    eligible: bool
    reasons: tuple[Reason, ...]

    @property
    def mask(self) -> int:
        return sum(RULE_BIT[r.code] for r in self.reasons)


def reasons_from_mask(mask: int, params: Mapping[str, Any]) -> tuple[Reason, ...]:
    """The reasons a stored mask stands for, with the rule set's parameters for their messages."""
    return tuple(Reason(code, params_for(code, params)) for code in RULE_CODES if mask & RULE_BIT[code])


def active_reasons(params: Mapping[str, Any]) -> tuple[Reason, ...]:
    """Every rule a rule set applies, as the reason it would give."""
    skipped = {"over_age"} if params.get("max_age") is None else set()
    skipped |= set(LIST_RULES) - set(params["excluded_lists"])
    return tuple(Reason(code, params_for(code, params)) for code in RULE_CODES if code not in skipped)


def params_for(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "under_age": {"min_age": params.get("min_age")},
        "over_age": {"max_age": params.get("max_age")},
        "kk_limit": {"max_per_kk": params.get("max_per_kk")},
    }.get(code, {})


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Facts:
    """What eligibility is decided on: the profile, list memberships and the programme's history."""

    birth_date: date
    citizen: bool | None = True
    lists: frozenset[str] = frozenset()
    kk_recipients: int = 0
    waived: int = 0  # rules reversed on appeal for this person


def decide(facts: Facts, *, params: Mapping[str, Any], today: date) -> Decision:
    """Every rule of the rule set that the applicant fails."""
    failing: list[Reason] = []
    age = age_on(facts.birth_date, today)
    if age < params["min_age"]:
        failing.append(Reason("under_age", params_for("under_age", params)))
    if params.get("max_age") is not None and age > params["max_age"]:
        failing.append(Reason("over_age", params_for("over_age", params)))
    if facts.citizen is False:
        failing.append(Reason("not_citizen"))
    if facts.kk_recipients >= params["max_per_kk"]:
        failing.append(Reason("kk_limit", params_for("kk_limit", params)))
    for kind in LIST_RULES:
        if kind in facts.lists and kind in params["excluded_lists"]:
            failing.append(Reason(kind))
    failing = [r for r in failing if not facts.waived & RULE_BIT[r.code]]
    failing.sort(key=lambda r: RULE_CODES.index(r.code))
    return Decision(not failing, tuple(failing))


# The texts an applicant accepts when registering; a changed text gets a new version.
CONSENT_VERSION = "2026-11"
CONSENT_TEXTS: dict[str, Any] = {  # lazy texts, translated when shown
    "consent": _(
        "I agree that the programme office processes my personal data (NIK, KK, name, birth date, address, "
        "contacts, education and employment) to decide my eligibility, run the programme and evaluate it, "
        "and checks it with the population registry (Dukcapil) and other agencies' lists."
    ),
    "self_declaration": _(
        "I declare that the data I give is true; that I am not a civil servant, soldier, police officer, "
        "village official, legislator or director of a state-owned company; that I am not in formal "
        "education; and that I do not receive another wage subsidy. False data ends my participation."
    ),
}


class Profile(NamedTuple):
    """One applicant's data, well formed and consistent; NIK and KK still in clear (encrypted on save). A
    named tuple rather than a frozen dataclass: made a third as fast, once for each row of an import."""

    nik: str
    kk: str
    full_name: str
    birth_date: date
    sex: str
    phone: str
    email: str
    village_code: str
    rural: bool
    education: str
    employment_status: str
    disability: bool


def _problem(column: str, code: str, message: Promise | str, /, **params: Any) -> Problem:
    return Problem(f"{column}:{code}", message, params)


def nik_agreement(
    nik: Check, *, birth_date: date | None, sex: str | None, district: str | None
) -> list[Problem]:
    """Where the NIK disagrees with the profile, one problem naming each field that disagrees."""
    problems: list[Problem] = []
    parsed = nik.parsed
    if parsed is None:
        return problems
    if birth_date and parsed.date and parsed.date != birth_date:
        problems.append(
            _problem(
                "birth_date",
                "disagrees_with_nik",
                _("The birth date %(given)s does not match the NIK, which says %(nik)s."),
                given=birth_date.isoformat(),
                nik=parsed.date.isoformat(),
            )
        )
    if sex and parsed.sex and parsed.sex != sex:
        problems.append(
            _problem(
                "sex",
                "disagrees_with_nik",
                _("The sex %(given)s does not match the NIK, which says %(nik)s."),
                given=sex,
                nik=parsed.sex,
            )
        )
    if district and parsed.district_code != district:
        problems.append(
            _problem(
                "village_code",
                "disagrees_with_nik",
                _("The village is in district %(given)s, but the NIK was issued in district %(nik)s."),
                given=district,
                nik=parsed.district_code,
            )
        )
    return problems


def read_row(
    row: Mapping[str, str], *, known_regions: Container[str], villages: Container[str], today: date
) -> Profile | list[Problem]:
    """A CSV row as a Profile, or every problem with it (each problem code prefixed by its column)."""
    return _clean_profile(row, known_regions, villages, today) or _read_in_full(
        row, known_regions=known_regions, villages=villages, today=today
    )


_IN_COLUMN_ORDER = itemgetter(*COLUMNS)


def _phone_ok(phone: str) -> bool:
    """9-15 ASCII digits, after an optional + (isdigit alone would take other scripts' digits)."""
    digits = phone.removeprefix("+")
    return digits.isascii() and digits.isdigit() and 9 <= len(digits) <= 15


def _clean_profile(
    row: Mapping[str, str], known_regions: Container[str], villages: Container[str], today: date
) -> Profile | None:
    """The Profile of a row with nothing wrong, by the same checks as `_read_in_full` but without naming a
    problem: None as soon as one fails, for `_read_in_full` to name them all. Most rows of an import are
    clean, and this costs a third of reading them in full."""
    try:
        values = _IN_COLUMN_ORDER(row)
    except KeyError:
        return None
    if None in values:  # a short line of a CSV file
        return None
    # Unstripped: a value with spaces around fails its check here (and is read in full), but a name or e-mail.
    nik, kk, name, birth, sex, phone, email, village, rural, education, employment, disability = values
    name, email, village = name.strip(), email.strip(), village.replace(".", "")
    is_rural, disabled = BOOLEANS.get(rural.lower()), BOOLEANS.get(disability.lower())
    if not (
        len(nik) == len(kk) == 16
        and (nik + kk).isascii()
        and (nik + kk).isdigit()
        and "0000" not in (nik[12:], kk[12:])
        and nik[:2] in known_regions
        and nik[:4] in known_regions
        and nik[:6] in known_regions
        and kk[:2] in known_regions
        and kk[:4] in known_regions
        and kk[:6] in known_regions
        and 0 < len(name) <= 150
        and sex in ("L", "P")
        and village in villages
        and village[:6] == nik[:6]
        and is_rural is not None
        and disabled is not None
        and education in EDUCATION
        and employment in EMPLOYMENT
        and (not phone or _phone_ok(phone))
        and (not email or ("@" in email and len(email) <= 254))
        and kk_issue_date(kk, today=today)
    ):
        return None
    try:
        born = date.fromisoformat(birth)
    except ValueError:
        return None
    if not nik_carries(nik, born=born, sex=sex, today=today):
        return None
    return Profile(
        nik=nik,
        kk=kk,
        full_name=name,
        birth_date=born,
        sex=sex,
        phone=phone,
        email=email.lower(),
        village_code=village,
        rural=is_rural,
        education=education,
        employment_status=employment,
        disability=disabled,
    )


def _read_in_full(
    row: Mapping[str, str], *, known_regions: Container[str], villages: Container[str], today: date
) -> Profile | list[Problem]:
    value = {c: (row.get(c) or "").strip() for c in COLUMNS}
    # Codes are read whatever their case, as true/false are ("l", "SMA", "Unemployed" from a spreadsheet).
    value.update(
        sex=value["sex"].upper(),
        education=value["education"].lower(),
        employment_status=value["employment_status"].lower(),
    )
    problems: list[Problem] = []
    nik = check_nik(value["nik"], known_regions=known_regions, today=today)
    problems += [_problem("nik", p.code, p.template, **p.params) for p in nik.problems]
    kk = check_kk(value["kk"], known_regions=known_regions, today=today)
    problems += [_problem("kk", p.code, p.template, **p.params) for p in kk.problems]
    if not value["full_name"]:
        problems.append(_problem("full_name", "required", _("The full name is required.")))
    elif len(value["full_name"]) > 150:
        problems.append(
            _problem("full_name", "too_long", _("The full name must be at most 150 characters long."))
        )
    try:
        born: date | None = date.fromisoformat(value["birth_date"])
    except ValueError:
        born = None
        problems.append(_problem("birth_date", "invalid", _("The birth date must be a date as YYYY-MM-DD.")))
    if value["sex"] not in ("L", "P"):
        problems.append(_problem("sex", "invalid", _("Sex must be L (male) or P (female).")))
    village = value["village_code"].replace(".", "")
    if not village:
        problems.append(_problem("village_code", "required", _("The village code is required.")))
    elif village not in villages:
        problems.append(
            _problem(
                "village_code",
                "unknown",
                _("The village code %(code)s does not exist."),
                code=value["village_code"][:20],
            )
        )
    for column in ("rural", "disability"):
        if value[column].lower() not in BOOLEANS:
            problems.append(
                _problem(column, "invalid", _("%(column)s must be true or false."), column=column)
            )
    if value["education"] not in EDUCATION:
        problems.append(
            _problem(
                "education",
                "invalid",
                _("Education must be one of: %(choices)s."),
                choices=", ".join(EDUCATION),
            )
        )
    if value["employment_status"] not in EMPLOYMENT:
        problems.append(
            _problem(
                "employment_status",
                "invalid",
                _("Employment status must be one of: %(choices)s."),
                choices=", ".join(EMPLOYMENT),
            )
        )
    if value["phone"] and not _phone_ok(value["phone"]):
        problems.append(_problem("phone", "invalid", _("The phone number must be 9-15 digits.")))
    if value["email"] and ("@" not in value["email"] or len(value["email"]) > 254):
        problems.append(_problem("email", "invalid", _("The e-mail address is not valid.")))
    problems += nik_agreement(
        nik,
        birth_date=born,
        sex=value["sex"] if value["sex"] in ("L", "P") else None,  # an invalid one is told about already
        district=village[:6] if village in villages else None,
    )
    if problems or born is None:
        return problems
    return Profile(
        nik=value["nik"],
        kk=value["kk"],
        full_name=value["full_name"],
        birth_date=born,
        sex=value["sex"],
        phone=value["phone"],
        email=value["email"].lower(),
        village_code=village,
        rural=BOOLEANS[value["rural"].lower()],
        education=value["education"],
        employment_status=value["employment_status"],
        disability=BOOLEANS[value["disability"].lower()],
    )


# The one-time basic-skills and motivation test: 18 questions drawn per category, 25 minutes.
APTITUDE_MINUTES = 25


def aptitude_draw(bank: Mapping[str, Any], seed: int) -> list[str]:
    """The question ids one applicant gets: `draw[category]` of each category, in a shuffled order."""
    rng = random.Random(seed)
    chosen: list[str] = []
    for category, count in bank["draw"].items():
        ids = sorted(q["id"] for q in bank["questions"] if q["category"] == category)
        chosen += rng.sample(ids, count)
    rng.shuffle(chosen)
    return chosen


def aptitude_score(
    bank: Mapping[str, Any], question_ids: list[str], answers: Mapping[str, int]
) -> dict[str, Any]:
    """Points per category and in total for the answers given (choice index per question id)."""
    by_id = {q["id"]: q for q in bank["questions"]}
    categories: dict[str, dict[str, int]] = {}
    for qid in question_ids:
        question = by_id[qid]
        points = [c["points"] for c in question["choices"]]
        tally = categories.setdefault(question["category"], {"score": 0, "max": 0})
        tally["max"] += max(points)
        choice = answers.get(qid)
        if choice is not None and 0 <= choice < len(points):
            tally["score"] += points[choice]
    return {
        "score": sum(t["score"] for t in categories.values()),
        "max": sum(t["max"] for t in categories.values()),
        "categories": categories,
    }
