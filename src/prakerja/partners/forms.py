"""Partner forms: thin shapes for the services, which check the programme's rules and name every problem."""

from decimal import Decimal
from typing import Any

from django import forms
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from prakerja.accounts.forms import NewPasswordForm
from prakerja.partners.models import DocumentKind, Kind, LegalForm, Partner, PartyKind, TieRole
from prakerja.partners.rules import DEFAULT_COMMISSION_CAP_BP
from prakerja.partners.selectors import cooperation_candidates
from prakerja.regions.selectors import provinces

PLATFORM_ONLY = ("portal_url", "it_systems", "national_reach")
INSTITUTION_ONLY = ("accreditation", "accreditation_number", "accredited_until")
DOCUMENT_KINDS: dict[str, list[DocumentKind]] = {
    Kind.PLATFORM: [
        k for k in DocumentKind if k not in (DocumentKind.ACCREDITATION, DocumentKind.TRAINER_CERTIFICATE)
    ],
    Kind.INSTITUTION: [k for k in DocumentKind if k != DocumentKind.IT_SYSTEMS],
}


def verbose_name(name: str) -> Any:
    """The model's own label of a partner field, so the form and the pages say what the admin says."""
    field = Partner._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.verbose_name


def _label(name: str) -> Any:
    return capfirst(verbose_name(name))


def _date(**kwargs: Any) -> forms.DateField:
    return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs)


def _province_choices() -> list[tuple[str, str]]:
    return [("", "—"), *((p.code, p.name) for p in provinces())]


class UnechoedInput(forms.TextInput):
    """A text input that never writes the value back into the page: an identity number is sent, not shown."""

    def format_value(self, value: Any) -> str | None:
        return None


class SignupForm(NewPasswordForm):
    field_order = ["kind", "name", "email", "password", "password_again"]
    kind = forms.ChoiceField(label=_("We are a"), choices=Kind.choices, widget=forms.RadioSelect)
    name = forms.CharField(label=_("Name of the platform or institution"), max_length=120)
    email = forms.EmailField(label=_("E-mail address of the person who fills in the application"))


class ApplicationForm(forms.Form):
    """The application's own fields; a platform sees the platform's, an institution the institution's."""

    name = forms.CharField(label=_label("name"), max_length=120)
    legal_name = forms.CharField(label=_label("legal_name"), max_length=200, required=False)
    legal_form = forms.ChoiceField(
        label=_label("legal_form"), choices=[("", "—"), *LegalForm.choices], required=False
    )
    deed_number = forms.CharField(label=_label("deed_number"), max_length=60, required=False)
    deed_date = _date(label=_label("deed_date"), required=False)
    nib = forms.CharField(
        label=_label("nib"),
        max_length=13,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("13 digits, from the OSS licensing system."),
    )
    address = forms.CharField(label=_label("address"), max_length=300, required=False)
    province_code = forms.ChoiceField(
        label=_label("province_code"), choices=_province_choices, required=False
    )
    portal_url = forms.CharField(
        label=_label("portal_url"),
        max_length=200,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    description = forms.CharField(
        label=_label("description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    it_systems = forms.CharField(
        label=_label("it_systems"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Hosting, security certification, capacity, how the systems integrate with Prakerja."),
    )
    national_reach = forms.BooleanField(label=_("Reaches participants across Indonesia"), required=False)
    accreditation = forms.CharField(
        label=_label("accreditation"),
        max_length=60,
        required=False,
        help_text=_("e.g. LA-LPK A, or the competency standard (SKKNI) taught."),
    )
    accreditation_number = forms.CharField(
        label=_label("accreditation_number"), max_length=60, required=False
    )
    accredited_until = _date(label=_label("accredited_until"), required=False)

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in INSTITUTION_ONLY if kind == Kind.PLATFORM else PLATFORM_ONLY:
            del self.fields[name]


class TieForm(forms.Form):
    party_kind = forms.ChoiceField(
        label=_("Person or company"), choices=PartyKind.choices, widget=forms.RadioSelect, initial="person"
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    number = forms.CharField(
        label=_("NIK of a person (16 digits) or NIB of a company (13 digits)"),
        max_length=20,
        widget=UnechoedInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("Used only to recognise the same owner across partners; it is never shown again."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=TieRole.choices)
    share_percent = forms.IntegerField(
        label=_("Share (%)"), required=False, min_value=1, max_value=100, help_text=_("For owners only.")
    )


class TrainerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    competency = forms.CharField(label=_("Competency"), max_length=200)
    certificate = forms.CharField(label=_("Certificate (e.g. BNSP number)"), max_length=120, required=False)


class CooperationForm(forms.Form):
    institutions = forms.ModelMultipleChoiceField(
        label=_("Registered training institutions the platform works with"),
        queryset=Partner.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_institutions = forms.CharField(
        label=_label("other_institutions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Institutions that have not applied here yet: one per line."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["institutions"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = cooperation_candidates().order_by("name")


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Document"))
    file = forms.FileField(
        label=_("File (PDF, PNG or JPEG, at most 5 MB)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(k.value, k.label) for k in DOCUMENT_KINDS[kind]]


class ScreeningForm(forms.Form):
    passed = forms.TypedChoiceField(
        label=_("Finding"),
        choices=(("true", _("Met")), ("false", _("Not met"))),
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
    )
    evidence = forms.CharField(
        label=_("Evidence checked"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class VerdictForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Verdict"),
        choices=(("true", _("Approve")), ("false", _("Reject"))),
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note (the reason, for a rejection: the partner reads it)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AgreementForm(forms.Form):
    number = forms.CharField(label=_("Agreement number"), max_length=80)
    signed_on = _date(label=_("Signed on"))
    starts_on = _date(label=_("Valid from"))
    ends_on = _date(label=_("Valid until"))
    commission_cap = forms.DecimalField(
        label=_("Commission cap (%)"),
        initial=Decimal(DEFAULT_COMMISSION_CAP_BP) / 100,
        min_value=Decimal(0),
        max_digits=5,
        decimal_places=2,
        help_text=_("At most 15 %."),
    )

    def basis_points(self) -> int:
        return int(self.cleaned_data["commission_cap"] * 100)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the partner reads it)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ConflictForm(forms.Form):
    note = forms.CharField(
        label=_("Note (why the pair is allowed or forbidden)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Webhook address"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text=_("Prakerja POSTs each event here as JSON, signed by the Standard Webhooks scheme."),
    )
