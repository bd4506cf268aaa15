"""Pure partner rules: the published screening criteria, what a complete application holds, the ownership
graph's conflicts of interest, and the commission cap."""

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import Problem

PLATFORM, INSTITUTION = "platform", "institution"

# The published partner criteria (PRODUCT.md, flow 5); each is screened pass/fail with evidence.
CRITERIA = {
    PLATFORM: {
        "legal_entity": _("A limited company (PT) with a deed of establishment"),
        "business_licence": _("A business licence (NIB)"),
        "national_reach": _("Reaches participants across Indonesia"),
        "it_systems": _("IT systems fit for the programme: security, capacity, integration"),
        "portal": _("Runs an internet portal where participants choose trainings"),
        "institution_cooperation": _("Cooperates with competency-based training institutions"),
    },
    INSTITUTION: {
        "legal_entity": _("A legal entity with a deed of establishment"),
        "business_licence": _("A business licence (NIB) or operating permit"),
        "accreditation": _("Accredited, or teaches to a recognised competency standard"),
        "trainers": _("Has qualified trainers for what it teaches"),
        "competency_based": _("Trainings are competency-based, with outcomes that can be assessed"),
    },
}
REQUIRED_DOCUMENTS = {PLATFORM: ("deed", "nib", "it_systems"), INSTITUTION: ("deed", "nib")}
DEFAULT_COMMISSION_CAP_BP = 1500  # 15 %

_NIB = re.compile(r"^\d{13}$")


@dataclass(frozen=True)
class Application:
    """What a partner has filled in, as plain values."""

    kind: str
    legal_form: str
    legal_name: str
    deed_number: str
    nib: str
    portal_url: str
    it_systems: str
    national_reach: bool
    cooperations: int
    other_institutions: str
    trainers: int
    owners: int
    directors: int
    documents: frozenset[str]


def nib_problem(nib: str) -> Problem | None:
    if not _NIB.match(nib):
        return Problem("nib:invalid", _("The NIB must be 13 digits."))
    return None


def application_problems(app: Application) -> list[Problem]:
    """Everything missing before an application can be submitted for screening."""
    problems: list[Problem] = []
    if not app.legal_name.strip():
        problems.append(Problem("legal_name:missing", _("Enter the legal name of the entity.")))
    if not app.legal_form:
        problems.append(Problem("legal_form:missing", _("Choose the legal form.")))
    elif app.kind == PLATFORM and app.legal_form != "pt":
        problems.append(Problem("legal_form:not_pt", _("A digital platform must be a limited company (PT).")))
    if not app.deed_number.strip():
        problems.append(Problem("deed_number:missing", _("Enter the number of the deed of establishment.")))
    nib = nib_problem(app.nib)
    if nib:
        problems.append(nib)
    if app.kind == PLATFORM:
        if not app.portal_url:
            problems.append(Problem("portal_url:missing", _("Enter the address of the internet portal.")))
        if not app.it_systems.strip():
            problems.append(Problem("it_systems:missing", _("Describe the IT systems.")))
        if not app.cooperations and not app.other_institutions.strip():
            problems.append(
                Problem("cooperations:missing", _("Name the training institutions the platform works with."))
            )
    elif not app.trainers:
        problems.append(Problem("trainers:missing", _("Add at least one trainer.")))
    if not app.owners:
        problems.append(Problem("owners:missing", _("Declare at least one owner or shareholder.")))
    if not app.directors:
        problems.append(Problem("directors:missing", _("Declare at least one director.")))
    for kind in REQUIRED_DOCUMENTS[app.kind]:
        if kind not in app.documents:
            problems.append(
                Problem("documents:missing", _("A required document is missing: %(kind)s"), {"kind": kind})
            )
    return problems


def verdict_problem(findings: Mapping[str, bool], kind: str, approve: bool) -> Problem | None:
    """A verdict needs every criterion screened; approval needs every one passed, rejection one failed."""
    missing = [c for c in CRITERIA[kind] if c not in findings]
    if missing:
        return Problem(
            "criteria:unscreened", _("Screen every criterion first: %(list)s"), {"list": ", ".join(missing)}
        )
    failed = [c for c, ok in findings.items() if not ok]
    if approve and failed:
        return Problem(
            "criteria:failed", _("Criteria not met cannot be approved: %(list)s"), {"list": ", ".join(failed)}
        )
    if not approve and not failed:
        return Problem("criteria:all_passed", _("Every criterion passed: record which one fails to reject."))
    return None


def linked_pairs(
    partners: Mapping[int, tuple[str, str, str]], ties: Iterable[tuple[int, str, str]]
) -> dict[tuple[int, int], list[str]]:
    """Each platform-institution pair joined through owners, directors or affiliates, and the shortest chain.

    `partners` maps id -> (kind, name, own party key or ''), `ties` are (partner id, party key, party label).
    A partner's own key (its NIB) joins it to any partner that names it as owner or affiliate.
    """
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    labels: dict[tuple[str, str], str] = {}

    def link(a: tuple[str, str], b: tuple[str, str]) -> None:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set()).add(a)

    for pid, (_kind, name, own_key) in partners.items():
        labels[("p", str(pid))] = name
        graph.setdefault(("p", str(pid)), set())
        if own_key:
            link(("p", str(pid)), ("q", own_key))
            labels.setdefault(("q", own_key), name)
    for pid, key, label in ties:
        if pid in partners:
            link(("p", str(pid)), ("q", key))
            labels[("q", key)] = label
    pairs: dict[tuple[int, int], list[str]] = {}
    for pid, (kind, _name, _key) in partners.items():
        if kind != PLATFORM:
            continue
        start = ("p", str(pid))
        previous: dict[tuple[str, str], tuple[str, str] | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt in sorted(graph[node]):
                if nxt in previous:
                    continue
                previous[nxt] = node
                queue.append(nxt)
                if nxt[0] == "p" and partners[int(nxt[1])][0] == INSTITUTION:
                    chain: list[str] = []
                    step: tuple[str, str] | None = nxt
                    while step is not None:
                        chain.append(labels[step])
                        step = previous[step]
                    pairs[(pid, int(nxt[1]))] = chain[::-1]
    return pairs


def commission(price: int, cap_bp: int) -> int:
    """The most a platform may keep of a sale: price x cap, rounded down to whole rupiah."""
    return price * cap_bp // 10_000


# OAuth2 scopes of the partner API: what a client of each kind may be granted.
SCOPES = {
    PLATFORM: ("purchases:write", "purchases:read", "cards:link", "webhooks:read", "webhooks:write"),
    INSTITUTION: (
        "redemptions:write",
        "attendance:write",
        "completions:write",
        "participants:read",
        "webhooks:read",
        "webhooks:write",
    ),
}
ALL_SCOPES = frozenset(scope for scopes in SCOPES.values() for scope in scopes)


def scope_grant(kind: str, requested: str | None) -> tuple[str, ...] | None:
    """The scopes granted for an OAuth2 `scope` (all the kind's when empty); None if one is not the kind's."""
    allowed = SCOPES[kind]
    if requested is None or not requested.strip():
        return allowed
    wanted = set(requested.split())
    if not wanted <= set(allowed):
        return None
    return tuple(s for s in allowed if s in wanted)


# Webhooks to partners (Standard Webhooks): the events sent, and when a failed delivery is tried again.
WEBHOOK_EVENTS = ("purchase.created", "purchase.cancelled", "voucher.redeemed", "certificate.issued")
# The Standard Webhooks schedule: the first try at once, then after each failure these waits; then it fails.
WEBHOOK_RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
WEBHOOK_MAX_ATTEMPTS = len(WEBHOOK_RETRY_DELAYS) + 1


def webhook_retry_delay(attempts: int) -> timedelta | None:
    """The wait before the next try after `attempts` failed ones; None once the message has failed."""
    if attempts < 1:
        return timedelta(0)
    if attempts > len(WEBHOOK_RETRY_DELAYS):
        return None
    return WEBHOOK_RETRY_DELAYS[attempts - 1]
