"""Pure survey rules: what a PMO-defined instrument needs, whether a participant's answers fit it, an
invitation's state on a day, and the outcome shares."""

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import Problem

CHOICE, SCALE, TEXT = "choice", "scale", "text"
KINDS = (CHOICE, SCALE, TEXT)
SCALE_MIN, SCALE_MAX = 1, 5
MAX_QUESTIONS = 40
MAX_OPTIONS = 20
MAX_TEXT_LENGTH = 2000
MAX_LABEL_LENGTH = 500
CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OPTION_VALUE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")

# Question codes the outcome page reads; a PMO instrument that wants to feed it uses these codes.
EMPLOYMENT, INCOME, COMPETENCE, SATISFACTION = "employment", "income", "competence", "satisfaction"
WORKING, BUSINESS = "working", "business"  # employment answers that count as "now works / runs a business"
BETTER_COMPETENCE = 4  # a competence answer of 4 or 5 counts as "better competence"

# An invitation's state on a given day, as the participant's page shows it.
UPCOMING, OPEN, CLOSED, COMPLETED = "upcoming", "open", "closed", "completed"


# --- the instrument, as the PMO defines it ---------------------------------------------------------------


def _text_problems(where: str, item: Mapping[str, Any], prefix: str, what: Any) -> list[Problem]:
    problems = []
    for suffix, language in (("id", _("Indonesian")), ("en", _("English"))):
        value = item.get(f"{prefix}_{suffix}")
        if not isinstance(value, str) or not value.strip():
            problems.append(
                Problem(
                    f"questions:{prefix}_{suffix}_missing",
                    _("%(where)s: enter the %(what)s in %(language)s."),
                    {"where": where, "what": what, "language": language},
                )
            )
        elif len(value) > MAX_LABEL_LENGTH:
            problems.append(
                Problem(
                    f"questions:{prefix}_{suffix}_too_long",
                    _("%(where)s: the %(what)s is longer than %(n)d characters."),
                    {"where": where, "what": what, "n": MAX_LABEL_LENGTH},
                )
            )
    return problems


def _options_problems(where: str, options: Any) -> list[Problem]:
    if not isinstance(options, list) or len(options) < 2:
        return [
            Problem(
                "questions:options_missing",
                _("%(where)s: a choice needs at least two options."),
                {"where": where},
            )
        ]
    if len(options) > MAX_OPTIONS:
        return [
            Problem(
                "questions:too_many_options",
                _("%(where)s: at most %(n)d options."),
                {"where": where, "n": MAX_OPTIONS},
            )
        ]
    problems: list[Problem] = []
    values = []
    for n, option in enumerate(options, start=1):
        at = _("%(where)s, option %(n)d") % {"where": where, "n": n}
        if not isinstance(option, dict):
            problems.append(
                Problem("questions:option_shape", _("%(where)s is not an object."), {"where": at})
            )
            continue
        value = option.get("value")
        if not isinstance(value, str) or not OPTION_VALUE.match(value):
            problems.append(
                Problem(
                    "questions:option_value",
                    _("%(where)s: the value must be lower-case letters, digits and _ (at most 40)."),
                    {"where": at},
                )
            )
        else:
            values.append(value)
        problems += _text_problems(at, option, "label", _("label"))
    if len(values) != len(set(values)):
        problems.append(
            Problem(
                "questions:option_duplicate",
                _("%(where)s: two options have the same value."),
                {"where": where},
            )
        )
    return problems


def instrument_problems(*, code: str, title_id: str, title_en: str, questions: Any) -> list[Problem]:
    """Everything wrong with an instrument the PMO defines: its code, both titles, and each question (a code
    used once, a known kind, both languages, options for a choice)."""
    problems = []
    if not CODE.match(code.replace("-", "_")):
        problems.append(
            Problem("code:invalid", _("The code must be lower-case letters, digits, - and _ (at most 40)."))
        )
    for field, value, language in (
        ("title_id", title_id, _("Indonesian")),
        ("title_en", title_en, _("English")),
    ):
        if not value.strip():
            problems.append(
                Problem(f"{field}:missing", _("Enter the title in %(language)s."), {"language": language})
            )
    if not isinstance(questions, list) or not questions:
        problems.append(
            Problem("questions:missing", _("The questions must be a list with at least one question."))
        )
        return problems
    if len(questions) > MAX_QUESTIONS:
        problems.append(Problem("questions:too_many", _("At most %(n)d questions."), {"n": MAX_QUESTIONS}))
    seen: set[str] = set()
    for n, question in enumerate(questions, start=1):
        where = _("Question %(n)d") % {"n": n}
        if not isinstance(question, dict):
            problems.append(Problem("questions:shape", _("%(where)s is not an object."), {"where": where}))
            continue
        qcode = question.get("code")
        if not isinstance(qcode, str) or not CODE.match(qcode):
            problems.append(
                Problem(
                    "questions:code_invalid",
                    _("%(where)s: the code must be lower-case letters, digits and _ (at most 40)."),
                    {"where": where},
                )
            )
        elif qcode in seen:
            problems.append(
                Problem(
                    "questions:code_duplicate",
                    _("%(where)s: the code %(code)s is used twice."),
                    {"where": where, "code": qcode},
                )
            )
        else:
            seen.add(qcode)
            where = _("Question %(n)d (%(code)s)") % {"n": n, "code": qcode}
        kind = question.get("kind")
        if kind not in KINDS:
            problems.append(
                Problem(
                    "questions:kind_invalid",
                    _("%(where)s: the kind must be one of %(kinds)s."),
                    {"where": where, "kinds": ", ".join(KINDS)},
                )
            )
        problems += _text_problems(where, question, "text", _("question"))
        if "required" in question and not isinstance(question["required"], bool):
            problems.append(
                Problem("questions:required", _("%(where)s: required is true or false."), {"where": where})
            )
        if kind == CHOICE:
            problems += _options_problems(where, question.get("options"))
        elif kind in (SCALE, TEXT) and question.get("options"):
            problems.append(
                Problem(
                    "questions:options_unexpected",
                    _("%(where)s: only a choice has options."),
                    {"where": where},
                )
            )
    return problems


# --- the participant's answers ---------------------------------------------------------------------------


def is_required(question: Mapping[str, Any]) -> bool:
    return bool(question.get("required", True))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def answer_problems(questions: Iterable[Mapping[str, Any]], answers: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with each answer, as `<question code>:<what>`: a required question left blank, an option
    the question does not offer, a scale outside 1-5, a text too long, an answer to no question."""
    problems = []
    known = set()
    for question in questions:
        code = question["code"]
        known.add(code)
        value = answers.get(code)
        if _blank(value):
            if is_required(question):
                problems.append(Problem(f"{code}:missing", _("Please answer this question.")))
            continue
        kind = question["kind"]
        if kind == CHOICE:
            if str(value) not in {o["value"] for o in question["options"]}:
                problems.append(Problem(f"{code}:unknown_option", _("Choose one of the options given.")))
        elif kind == SCALE:
            if _scale(value) is None:
                problems.append(
                    Problem(
                        f"{code}:out_of_scale",
                        _("Choose a number from %(low)d to %(high)d."),
                        {"low": SCALE_MIN, "high": SCALE_MAX},
                    )
                )
        elif not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
            problems.append(
                Problem(f"{code}:too_long", _("Write at most %(n)d characters."), {"n": MAX_TEXT_LENGTH})
            )
    for code in sorted(set(answers) - known):
        problems.append(
            Problem(f"{code}:unknown_question", _("This survey has no question %(code)s."), {"code": code})
        )
    return problems


def _scale(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if SCALE_MIN <= number <= SCALE_MAX else None


def answers_clean(questions: Iterable[Mapping[str, Any]], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Valid answers as stored: scales as numbers, text trimmed, blanks of optional questions left out."""
    clean: dict[str, Any] = {}
    for question in questions:
        value = answers.get(question["code"])
        if _blank(value):
            continue
        if question["kind"] == SCALE:
            clean[question["code"]] = _scale(value)
        else:
            clean[question["code"]] = str(value).strip()
    return clean


# --- invitations and outcomes ----------------------------------------------------------------------------


def invitation_state(*, opens_on: date, closes_on: date, completed: bool, today: date) -> str:
    if completed:
        return COMPLETED
    if today < opens_on:
        return UPCOMING
    if today > closes_on:
        return CLOSED
    return OPEN


def share(part: int, whole: int) -> float | None:
    """part / whole as a percentage with one decimal, or None when nobody is counted."""
    return round(100 * part / whole, 1) if whole else None
