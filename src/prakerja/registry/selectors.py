"""Reads of the registry."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count

from prakerja.identity.selectors import nik_index
from prakerja.registry import rules
from prakerja.registry.models import Applicant, ExclusionEntry, RuleSet


def ruleset_current() -> RuleSet | None:
    return RuleSet.objects.order_by("-version").first()


def applicant_by_nik(nik: str) -> Applicant | None:
    """Found through the blind index: the NIK itself is never searched for or stored in clear."""
    return Applicant.objects.filter(nik_index=nik_index(nik.strip())).first()


def list_memberships(indexes: Iterable[str]) -> dict[str, frozenset[str]]:
    """For each blind index, the kinds of active exclusion lists it is on."""
    kinds: dict[str, set[str]] = defaultdict(set)
    rows = ExclusionEntry.objects.filter(
        nik_index__in=list(indexes), exclusion_list__active=True
    ).values_list("nik_index", "exclusion_list__kind")
    for index, kind in rows:
        kinds[index].add(kind)
    return {index: frozenset(found) for index, found in kinds.items()}


def counts_by_failing_rule() -> dict[str, int]:
    """How many applicants fail each rule (an applicant failing two rules counts in both)."""
    masks = Applicant.objects.filter(eligible=False).values_list("failing_rules").annotate(n=Count("id"))
    counts = dict.fromkeys(rules.RULE_CODES, 0)
    for mask, n in masks:
        for code in rules.RULE_CODES:
            if mask & rules.RULE_BIT[code]:
                counts[code] += n
    return counts
