"""Pure catalogue rules: folded search text, safe partner text, what a training and a session need, the
curation checklist, and reference prices per hour with their outliers."""

import html
import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import nh3
from django.utils.translation import gettext_lazy as _

from prakerja.core.money import format_rupiah
from prakerja.identity.rules import Problem

ONLINE, OFFLINE, HYBRID = "online", "offline", "hybrid"
WITH_A_PLACE = (OFFLINE, HYBRID)
MIN_HOURS, MAX_HOURS = 1, 500
MAX_SKILLS, MAX_SKILL_LENGTH = 20, 100
MAX_TITLE_LENGTH = 200
MAX_QUERY_WORDS = 8
MAX_REVIEW_LENGTH = 2000
RATING_MIN, RATING_MAX = 1, 5
REFERENCE_MIN_TRAININGS = 5
OUTLIER_FACTOR = 2.0
# Descriptions may keep paragraphs, lists and emphasis; links, images and styles never reach a participant.
DESCRIPTION_TAGS = frozenset({"p", "br", "ul", "ol", "li", "strong", "em"})

_NOT_WORD = re.compile(r"[\W_]+")
_VILLAGE = re.compile(r"^\d{10}$")

# The curation checklist (PRODUCT.md, flow 6): an officer ticks each item before approving.
CHECKLIST = {
    "outcomes": _("Clear competency outcomes that can be assessed"),
    "hours": _("Hours plausible for the content"),
    "price": _("Price reasonable for the hours, the sector and the mode (see the reference prices)"),
    "description": _("Description accurate and complete in both Indonesian and English"),
    "schedule": _("Schedule, venue and capacity given for in-person sessions"),
    "claims": _("No misleading claims (guaranteed jobs, certificates the training does not award)"),
}
# Only trainings met in person have a venue and a capacity to check.
PLACE_ONLY = frozenset({"schedule"})


# --- text ---------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, accents stripped, anything but letters and digits a space, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", bare.lower()).split())


def query_words(query: str) -> list[str]:
    """The distinct folded words of a search, at most MAX_QUERY_WORDS, in the order typed."""
    return list(dict.fromkeys(fold(query).split()))[:MAX_QUERY_WORDS]


def sanitise(text: str) -> str:
    """A partner's description as safe HTML: paragraphs, line breaks, lists and emphasis only."""
    return nh3.clean(text, tags=set(DESCRIPTION_TAGS), attributes={}, link_rel=None).strip()


def plain(text: str) -> str:
    """Text with every tag stripped (titles, competencies, reviews): Django escapes it again on display."""
    return html.unescape(nh3.clean(text, tags=set(), attributes={}, link_rel=None)).strip()


def search_text(
    *, titles: Iterable[str], descriptions: Iterable[str], skills: Iterable[str], institution: str
) -> str:
    """The folded words a training is found by."""
    parts = [*titles, *(plain(d) for d in descriptions), *skills, institution]
    return fold(" ".join(parts))


# --- trainings and sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingDraft:
    """What an institution fills in for a training, already sanitised, as plain values."""

    title_id: str
    title_en: str
    description_id: str
    description_en: str
    skills: tuple[str, ...]
    sector: str
    level: str
    mode: str
    hours: int
    price: int


def training_problems(
    draft: TrainingDraft,
    *,
    price_max: int,
    sectors: Container[str],
    levels: Container[str],
    modes: Container[str],
) -> list[Problem]:
    """Everything wrong with a training's fields, each naming its field."""
    problems: list[Problem] = []
    for field, value, language in (
        ("title_id", draft.title_id, _("Indonesian")),
        ("title_en", draft.title_en, _("English")),
    ):
        if not value.strip():
            problems.append(
                Problem(f"{field}:missing", _("Enter the title in %(language)s."), {"language": language})
            )
        elif len(value) > MAX_TITLE_LENGTH:
            problems.append(
                Problem(
                    f"{field}:too_long", _("A title has at most %(n)d characters."), {"n": MAX_TITLE_LENGTH}
                )
            )
    for field, value, language in (
        ("description_id", draft.description_id, _("Indonesian")),
        ("description_en", draft.description_en, _("English")),
    ):
        if not plain(value):
            problems.append(
                Problem(
                    f"{field}:missing", _("Enter the description in %(language)s."), {"language": language}
                )
            )
    skills = [s for s in draft.skills if s.strip()]
    if not skills:
        problems.append(Problem("skills:missing", _("Name at least one competency the training teaches.")))
    elif len(skills) > MAX_SKILLS:
        problems.append(Problem("skills:too_many", _("Name at most %(n)d competencies."), {"n": MAX_SKILLS}))
    elif any(len(s) > MAX_SKILL_LENGTH for s in skills):
        problems.append(
            Problem(
                "skills:too_long", _("A competency has at most %(n)d characters."), {"n": MAX_SKILL_LENGTH}
            )
        )
    if draft.sector not in sectors:
        problems.append(Problem("sector:unknown", _("Choose a sector.")))
    if draft.level not in levels:
        problems.append(Problem("level:unknown", _("Choose a level.")))
    if draft.mode not in modes:
        problems.append(Problem("mode:unknown", _("Choose online, offline or hybrid.")))
    if not MIN_HOURS <= draft.hours <= MAX_HOURS:
        problems.append(
            Problem(
                "hours:out_of_range",
                _("Hours must be between %(low)d and %(high)d."),
                {"low": MIN_HOURS, "high": MAX_HOURS},
            )
        )
    if draft.price <= 0:
        problems.append(Problem("price:not_positive", _("The price must be more than zero.")))
    elif draft.price > price_max:
        problems.append(
            Problem(
                "price:above_maximum",
                _("The price is above the programme's maximum of %(max)s per training."),
                {"max": format_rupiah(price_max)},
            )
        )
    return problems


def session_problems(
    *,
    mode: str,
    starts_at: datetime,
    ends_at: datetime,
    village_code: str,
    address: str,
    capacity: int | None,
) -> list[Problem]:
    """Everything wrong with a session: it ends after it starts; in person, it has a place and a capacity."""
    problems: list[Problem] = []
    if ends_at <= starts_at:
        problems.append(Problem("ends_at:before_start", _("A session must end after it starts.")))
    if mode in WITH_A_PLACE:
        if not village_code:
            problems.append(
                Problem("village_code:missing", _("Choose the village where the session is held."))
            )
        elif not _VILLAGE.match(village_code):
            problems.append(Problem("village_code:invalid", _("A village code has 10 digits.")))
        if not address.strip():
            problems.append(Problem("address:missing", _("Enter the address of the venue.")))
        if capacity is None or capacity < 1:
            problems.append(Problem("capacity:missing", _("Enter how many participants the venue holds.")))
    return problems


def submission_problems(*, mode: str, sessions: int) -> list[Problem]:
    """What a training needs besides its fields before it goes to curation."""
    if mode in WITH_A_PLACE and not sessions:
        return [Problem("sessions:missing", _("Add at least one session with its venue before submitting."))]
    return []


# --- curation -----------------------------------------------------------------------------------------


def checklist_for(mode: str) -> dict[str, str]:
    """The checklist items that apply to a training of this mode, as codes and labels."""
    return {
        code: str(label)
        for code, label in CHECKLIST.items()
        if mode in WITH_A_PLACE or code not in PLACE_ONLY
    }


def curation_problems(
    *, outcome: str, mode: str, checklist: Mapping[str, bool], reasons: str
) -> list[Problem]:
    """Approval needs every applicable item ticked; any other outcome needs written reasons."""
    problems: list[Problem] = []
    unknown = sorted(set(checklist) - set(CHECKLIST))
    if unknown:
        problems.append(
            Problem("checklist:unknown", _("Unknown checklist items: %(list)s"), {"list": ", ".join(unknown)})
        )
    if outcome == "approve":
        unticked = [code for code in checklist_for(mode) if not checklist.get(code)]
        if unticked:
            problems.append(
                Problem(
                    "checklist:unticked",
                    _("Tick every checklist item before approving; not ticked: %(list)s"),
                    {"list": ", ".join(str(CHECKLIST[c]) for c in unticked)},
                )
            )
    elif not reasons.strip():
        problems.append(Problem("reasons:missing", _("Write the reasons: the institution reads them.")))
    return problems


# --- reviews ------------------------------------------------------------------------------------------


def review_problems(*, rating: int, text: str) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
        problems.append(
            Problem(
                "rating:out_of_range",
                _("A rating is a whole number from %(low)d to %(high)d."),
                {"low": RATING_MIN, "high": RATING_MAX},
            )
        )
    if len(text) > MAX_REVIEW_LENGTH:
        problems.append(
            Problem("text:too_long", _("A review has at most %(n)d characters."), {"n": MAX_REVIEW_LENGTH})
        )
    return problems


# --- prices -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricePoint:
    training_id: int
    sector: str
    mode: str
    price: int
    hours: int

    @property
    def per_hour(self) -> float:
        return self.price / self.hours


@dataclass(frozen=True)
class Reference:
    sector: str
    mode: str
    trainings: int
    median_per_hour: float


@dataclass(frozen=True)
class Outlier:
    training_id: int
    sector: str
    mode: str
    per_hour: float
    median_per_hour: float

    @property
    def ratio(self) -> float:
        return self.per_hour / self.median_per_hour


def reference_prices(
    points: Iterable[PricePoint], *, min_trainings: int = REFERENCE_MIN_TRAININGS
) -> dict[tuple[str, str], Reference]:
    """The median price per hour of each (sector, mode) with at least `min_trainings` trainings."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for point in points:
        if point.hours > 0:
            groups[(point.sector, point.mode)].append(point.per_hour)
    return {
        key: Reference(key[0], key[1], len(values), statistics.median(values))
        for key, values in sorted(groups.items())
        if len(values) >= min_trainings
    }


def price_outliers(
    points: Iterable[PricePoint],
    references: Mapping[tuple[str, str], Reference],
    *,
    factor: float = OUTLIER_FACTOR,
) -> list[Outlier]:
    """Trainings priced per hour above `factor` times their group's median, or below the median / `factor`."""
    outliers = []
    for point in points:
        reference = references.get((point.sector, point.mode))
        if reference is None or point.hours <= 0 or reference.median_per_hour <= 0:
            continue
        median = reference.median_per_hour
        if point.per_hour > median * factor or point.per_hour < median / factor:
            outliers.append(Outlier(point.training_id, point.sector, point.mode, point.per_hour, median))
    return sorted(outliers, key=lambda o: -max(o.ratio, 1 / o.ratio))
