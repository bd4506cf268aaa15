"""Reads of the registry."""

import json
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet

from prakerja.core.checks import breaches
from prakerja.identity.selectors import nik_index
from prakerja.regions.models import Level, Region
from prakerja.registry import rules
from prakerja.registry.models import (
    Applicant,
    EligibilityDecision,
    ExclusionEntry,
    ExclusionList,
    ListKind,
    RuleSet,
)


def ruleset_current() -> RuleSet | None:
    return RuleSet.objects.order_by("-version").first()


def applicant_by_nik(nik: str) -> Applicant | None:
    """Found through the blind index: the NIK itself is never searched for or stored in clear."""
    return Applicant.objects.filter(nik_index=nik_index(nik.strip())).first()


def list_memberships(indexes: Iterable[str]) -> dict[str, frozenset[str]]:
    """For each blind index, the kinds of active exclusion lists it is on."""
    kinds: dict[str, set[str]] = defaultdict(set)
    if not ExclusionList.objects.filter(active=True).exists():
        return {}
    rows = ExclusionEntry.objects.filter(
        nik_index__in=list(indexes), exclusion_list__active=True
    ).values_list("nik_index", "exclusion_list__kind")
    for index, kind in rows:
        kinds[index].add(kind)
    return {index: frozenset(found) for index, found in kinds.items()}


def family_recipients(people: Iterable[tuple[str, str]]) -> dict[str, int]:
    """For (NIK blind index, KK blind index) pairs, how many others on each person's family card (KK) have
    received the programme: registered applicants on an active former-recipient list (whose entries there
    carry their family card). By NIK blind index; people with none are left out."""
    former = ExclusionList.objects.filter(active=True, kind=ListKind.FORMER_RECIPIENT)
    if not former.exists():
        return {}
    people = list(people)
    recipients: dict[str, set[str]] = defaultdict(set)
    on_cards = ExclusionEntry.objects.filter(exclusion_list__in=former, kk_index__in={kk for _, kk in people})
    for kk, nik in on_cards.values_list("kk_index", "nik_index"):
        recipients[str(kk)].add(nik)
    counts = {nik: len(recipients[kk] - {nik}) for nik, kk in people if kk in recipients}
    return {nik: n for nik, n in counts.items() if n}


def counts_by_failing_rule() -> dict[str, int]:
    """How many applicants fail each rule (an applicant failing two rules counts in both)."""
    masks = Applicant.objects.filter(eligible=False).values_list("failing_rules").annotate(n=Count("id"))
    counts = dict.fromkeys(rules.RULE_CODES, 0)
    for mask, n in masks:
        for code in rules.RULE_CODES:
            if mask & rules.RULE_BIT[code]:
                counts[code] += n
    return counts


def applicants_search(*, name: str = "", province: str = "", eligible: str = "") -> QuerySet[Applicant]:
    """Applicants by name (contains), province and eligibility, newest first."""
    found = Applicant.objects.select_related("village").order_by("-id")
    if name:
        found = found.filter(full_name__icontains=name)
    if province:
        found = found.filter(province_code=province)
    if eligible in ("yes", "no"):
        found = found.filter(eligible=eligible == "yes")
    return found


def counts_by_province() -> list[dict[str, object]]:
    """Applicants and eligible applicants per province, with the province's name."""
    names = dict(Region.objects.filter(level=Level.PROVINCE).values_list("code", "name"))
    rows = (
        Applicant.objects.values("province_code")
        .annotate(total=Count("id"), eligible=Count("id", filter=Q(eligible=True)))
        .order_by("province_code")
    )
    return [{**row, "name": names.get(row["province_code"], "")} for row in rows]


def _found(model: type[Model], link: str) -> Exists:
    """True where the row's `link` names a row of `model`."""
    return Exists(model._default_manager.filter(pk=OuterRef(link)))


def registry_check() -> list[str]:
    """Every applicant or decision linked to a row that does not exist (these links have no database-level
    foreign keys, see Applicant); part of `prakerja ledger check`. Rows are named by id, never by NIK."""
    applicants = Applicant.objects.order_by("pk")
    decisions = EligibilityDecision.objects.order_by("pk")
    found = [
        (
            applicants.exclude(_found(Region, "village_id")),
            "applicant {} names a village that does not exist",
        ),
        (
            applicants.exclude(_found(RuleSet, "ruleset_id")),
            "applicant {} names a rule set that does not exist",
        ),
        (
            applicants.filter(user_id__isnull=False).exclude(_found(get_user_model(), "user_id")),
            "applicant {} names a user account that does not exist",
        ),
        (
            decisions.exclude(_found(Applicant, "applicant_id")),
            "decision {} is about an applicant who does not exist",
        ),
        (
            decisions.exclude(_found(RuleSet, "ruleset_id")),
            "decision {} names a rule set that does not exist",
        ),
    ]
    return [problem for rows, text in found for problem in breaches(rows, "pk", text)]


@cache
def aptitude_bank() -> dict[str, Any]:
    """The question bank shipped in registry/data (see its README)."""
    bank: dict[str, Any] = json.loads(
        resources.files("prakerja.registry")
        .joinpath("data/aptitude_questions.json")
        .read_text(encoding="utf-8")
    )
    return bank
