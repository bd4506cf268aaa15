from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prakerja.catalog import rules
from prakerja.catalog.models import CurationOutcome, Level, Mode, Sector, Training
from prakerja.catalog.selectors import SORT_LABELS
from prakerja.core.money import parse_rupiah
from prakerja.regions.selectors import names_above_villages

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class RupiahField(forms.CharField):
    """An amount in whole rupiah, typed as 1500000, 1.500.000 or Rp1.500.000."""

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_rupiah(text)
        except ValueError:
            raise forms.ValidationError(_("Enter a whole number of rupiah, e.g. 1.500.000.")) from None


class TrainingForm(forms.Form):
    """A training's fields; the service sanitises the text and reports every problem."""

    title_id = forms.CharField(label=_("Title (Indonesian)"), max_length=200, required=False)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200, required=False)
    description_id = forms.CharField(
        label=_("Description (Indonesian)"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    description_en = forms.CharField(
        label=_("Description (English)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text=_("Paragraphs, lists, bold and italics are kept; any other markup is removed."),
    )
    skills = forms.CharField(
        label=_("Competencies"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("One competency per line."),
    )
    sector = forms.ChoiceField(label=_("Sector"), choices=[("", "—"), *Sector.choices], required=False)
    level = forms.ChoiceField(label=_("Level"), choices=[("", "—"), *Level.choices], required=False)
    mode = forms.ChoiceField(label=_("Mode"), choices=[("", "—"), *Mode.choices], required=False)
    hours = forms.IntegerField(label=_("Hours"), required=False)
    price = RupiahField(
        label=_("Price"),
        required=False,
        help_text=_("The most any platform may sell the training for."),
    )

    @staticmethod
    def initial_of(training: Training) -> dict[str, Any]:
        initial = {field: getattr(training, field) for field in rules.TrainingDraft.__dataclass_fields__}
        initial["skills"] = "\n".join(training.skills)
        return initial


class SessionForm(forms.Form):
    starts_at = forms.DateTimeField(
        label=_("Starts"), widget=_DATETIME, help_text=_("Date and time in WIB (Jakarta).")
    )
    ends_at = forms.DateTimeField(label=_("Ends"), widget=_DATETIME)
    village_code = forms.CharField(
        label=_("Village code"),
        max_length=13,
        required=False,
        help_text=_("The 10-digit Kemendagri code of the village, e.g. 3273011001. In-person sessions only."),
    )
    address = forms.CharField(label=_("Address of the venue"), max_length=300, required=False)
    capacity = forms.IntegerField(label=_("Capacity (participants)"), min_value=1, required=False)


class CurationForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Decision"), choices=CurationOutcome.choices, widget=forms.RadioSelect
    )
    checklist = forms.MultipleChoiceField(
        label=_("Checklist"),
        choices=list(rules.CHECKLIST.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    reasons = forms.CharField(
        label=_("Reasons"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("Required for every decision but approval; the institution reads them."),
    )


class ListingForm(forms.Form):
    price = RupiahField(label=_("Your price"))


class ModerationForm(forms.Form):
    hide = forms.BooleanField(required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


RATINGS = [
    ("", _("Any rating")),
    ("4", _("4 stars and up")),
    ("3", _("3 stars and up")),
    ("2", _("2 stars and up")),
]


class CatalogueForm(forms.Form):
    """The participant's search; a filter that does not parse is reported and left out."""

    q = forms.CharField(label=_("Search"), max_length=200, required=False)
    sector = forms.ChoiceField(
        label=_("Sector"), choices=[("", _("All sectors")), *Sector.choices], required=False
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=[("", _("Any mode")), *Mode.choices], required=False)
    region = forms.ChoiceField(label=_("Sessions in"), required=False)
    max_price = RupiahField(label=_("Highest price"), required=False)
    min_rating = forms.ChoiceField(label=_("Rating"), choices=RATINGS, required=False)
    sort = forms.ChoiceField(label=_("Order"), choices=list(SORT_LABELS.items()), required=False)
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        assert isinstance(region, forms.ChoiceField)
        names = names_above_villages()
        choices = [("", _("Anywhere")), *((code, name) for code, name in names.items() if len(code) == 2)]
        wanted = str(self.data.get("region", "")) if self.is_bound else ""
        if len(wanted) == 4 and wanted in names:  # a regency, from a link or the API's vocabulary
            choices.append((wanted, f"{names[wanted]} ({names.get(wanted[:2], '')})"))
        region.choices = sorted(choices, key=lambda c: c[0])

    def clean_region(self) -> str:
        return str(self.cleaned_data.get("region") or "")

    def filters(self) -> dict[str, Any]:
        """The valid filters, for the search selector."""
        data = self.cleaned_data if self.is_bound else {}
        rating = data.get("min_rating")
        return {
            "q": data.get("q") or "",
            "sector": data.get("sector") or "",
            "mode": data.get("mode") or "",
            "region": data.get("region") or "",
            "max_price": data.get("max_price"),
            "min_rating": float(rating) if rating else None,
            "sort": data.get("sort") or "rating",
            "page": data.get("page") or 1,
        }
