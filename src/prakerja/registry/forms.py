from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prakerja.registry import rules
from prakerja.registry.models import Education, EmploymentStatus, ListKind, Sex

YES_NO = (("false", _("No")), ("true", _("Yes")))


class ProfileForm(forms.Form):
    """The registration profile; the rules themselves run in the service, which reports every problem."""

    nik = forms.CharField(
        label=_("NIK (16 digits, on your KTP)"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    kk = forms.CharField(
        label=_("Family card number (KK, 16 digits)"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    full_name = forms.CharField(label=_("Full name, as on your KTP"), max_length=150)
    birth_date = forms.DateField(label=_("Birth date"), widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    village_code = forms.CharField(label=_("Village code (10 digits)"), max_length=13)
    rural = forms.ChoiceField(label=_("Do you live in a rural area (desa)?"), choices=YES_NO)
    education = forms.ChoiceField(label=_("Education"), choices=Education.choices)
    employment_status = forms.ChoiceField(label=_("Employment status"), choices=EmploymentStatus.choices)
    disability = forms.ChoiceField(label=_("Do you have a disability?"), choices=YES_NO)
    consent = forms.BooleanField(label=rules.CONSENT_TEXTS["consent"], required=True)
    self_declaration = forms.BooleanField(label=rules.CONSENT_TEXTS["self_declaration"], required=True)

    def service_data(self) -> dict[str, str]:
        data: dict[str, Any] = self.cleaned_data
        return {
            **{
                key: str(data[key])
                for key in (
                    "nik",
                    "kk",
                    "full_name",
                    "sex",
                    "village_code",
                    "rural",
                    "education",
                    "employment_status",
                    "disability",
                )
            },
            "birth_date": data["birth_date"].isoformat(),
        }

    def consents(self) -> list[str]:
        return [kind for kind in rules.CONSENT_TEXTS if self.cleaned_data.get(kind)]


class AppealForm(forms.Form):
    statement = forms.CharField(
        label=_("Why is this reason wrong?"), min_length=20, widget=forms.Textarea(attrs={"rows": 5})
    )
    evidence = forms.FileField(label=_("Evidence (PDF, PNG or JPEG, at most 5 MB; optional)"), required=False)


class AppealDecisionForm(forms.Form):
    note = forms.CharField(
        label=_("Note for the applicant and the record"), widget=forms.Textarea(attrs={"rows": 3})
    )


class ExclusionUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file, the NIK in the first column"))
    kind = forms.ChoiceField(label=_("Kind of list"), choices=ListKind.choices)
    source = forms.CharField(label=_("Source agency"), max_length=100)
    as_of = forms.DateField(label=_("Date of the list"), widget=forms.DateInput(attrs={"type": "date"}))
