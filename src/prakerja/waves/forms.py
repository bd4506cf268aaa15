import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prakerja.regions.selectors import names_above_villages
from prakerja.registry.models import EmploymentStatus
from prakerja.waves.models import Scheme

_SEPARATORS = re.compile(r"[\s,;:=]+")


class QuotasField(forms.CharField):
    """Lines of `code quota` (codes may carry dots: 32.04) -> {"3204": 25}; the service checks the sums."""

    widget = forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Quotas per province and regency"))
        kwargs.setdefault(
            "help_text",
            _(
                "One line per region: its code and its number of places, e.g. “32 40” and “32.04 25”. "
                "Province quotas add up to the total; the regency quotas of a province, when given, "
                "add up to the province's quota."
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        quotas: dict[str, int] = {}
        errors = []
        for number, line in enumerate(text.splitlines(), start=1):
            parts = [p for p in _SEPARATORS.split(line.strip()) if p]
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                errors.append(
                    _("Line %(line)d: expected a region code and a number of places.") % {"line": number}
                )
                continue
            code = parts[0].replace(".", "")
            if code in quotas:
                errors.append(
                    _("Line %(line)d: region %(code)s is given twice.") % {"line": number, "code": parts[0]}
                )
            quotas[code] = int(parts[1])
        if errors:
            raise forms.ValidationError(errors)
        return quotas


class WaveForm(forms.Form):
    """A new wave; the service checks the quotas, the window and the priority and reports every problem."""

    number = forms.IntegerField(label=_("Wave number"), min_value=1)
    name = forms.CharField(label=_("Name"), max_length=120, help_text=_("e.g. Gelombang 12"))
    scheme = forms.ModelChoiceField(
        label=_("Benefit scheme"), queryset=Scheme.objects.order_by("code"), empty_label=None
    )
    opens_at = forms.DateTimeField(
        label=_("Registration opens"),
        help_text=_("Date and time in WIB (Jakarta)."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    closes_at = forms.DateTimeField(
        label=_("Registration closes"),
        help_text=_("Date and time in WIB (Jakarta)."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    total_quota = forms.IntegerField(label=_("Total quota (places)"))
    quotas = QuotasField()
    priority_employment = forms.MultipleChoiceField(
        label=_("Priority: employment status"),
        choices=EmploymentStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Applicants with one of these statuses are drawn before the others in their region."),
    )
    priority_regions = forms.CharField(
        label=_("Priority: hard-hit regions"),
        required=False,
        help_text=_("Province or regency codes separated by spaces or commas, e.g. 32 33.01."),
    )
    priority_disability = forms.BooleanField(label=_("Priority to people with a disability"), required=False)
    priority_rural = forms.BooleanField(label=_("Priority to people in rural areas (desa)"), required=False)

    def clean_priority_regions(self) -> list[str]:
        codes = [c.replace(".", "") for c in _SEPARATORS.split(self.cleaned_data["priority_regions"]) if c]
        known = names_above_villages()
        unknown = [c for c in codes if len(c) not in (2, 4) or c not in known]
        if unknown:
            raise forms.ValidationError(
                _("Unknown province or regency %(code)s.") % {"code": ", ".join(unknown)}
            )
        return list(dict.fromkeys(codes))

    def priority(self) -> dict[str, Any]:
        """The wave's priority criteria, in the form the service and the draw read."""
        data = self.cleaned_data
        priority: dict[str, Any] = {}
        if data["priority_employment"]:
            priority["employment"] = list(data["priority_employment"])
        if data["priority_regions"]:
            priority["regions"] = data["priority_regions"]
        if data["priority_disability"]:
            priority["disability"] = True
        if data["priority_rural"]:
            priority["rural"] = True
        return priority


class CommitmentForm(forms.Form):
    commitment = forms.CharField(
        label=_("Seed commitment (SHA-256, 64 hexadecimal characters)"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 64}),
        help_text=_(
            "Choose a secret seed of 64 hexadecimal characters (for example with “openssl rand -hex 32”) "
            "and keep it safe. Publish here only its SHA-256, from “echo -n SEED | sha256sum”. The seed is "
            "revealed at the draw, and anyone can check that it matches this commitment."
        ),
    )


class SeedForm(forms.Form):
    seed = forms.CharField(
        label=_("Seed (64 hexadecimal characters)"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 64}),
        help_text=_("The secret seed whose SHA-256 was committed; revealing it runs the draw."),
    )


class SimulationForm(forms.Form):
    scheme = forms.ModelChoiceField(
        label=_("Benefit scheme"), queryset=Scheme.objects.order_by("code"), empty_label=None
    )
    total_quota = forms.IntegerField(label=_("Total quota (places)"))
    quotas = QuotasField()
