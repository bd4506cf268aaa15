"""Forms of the payment pages: a participant's payout account, and the finance officers' batches,
settlement files and platform statements."""

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prakerja.payments.models import Provider


class UnechoedInput(forms.TextInput):
    """A text box that never sends its value back to the page: an account number is shown only as last 4."""

    def format_value(self, value: Any) -> None:
        return None


class DateInput(forms.DateInput):
    input_type = "date"


class PayoutAccountForm(forms.Form):
    provider = forms.ChoiceField(label=_("Bank or e-wallet"), choices=Provider.choices)
    number = forms.CharField(
        label=_("Account number or e-wallet phone number"),
        max_length=40,
        widget=UnechoedInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text=_("The account must be in your own name and registered to your NIK."),
    )
    code = forms.CharField(
        label=_("Code sent to your phone"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class BatchBuildForm(forms.Form):
    due_by = forms.DateField(label=_("Entitlements due by"), widget=DateInput(), initial=timezone.localdate)


class SettlementForm(forms.Form):
    provider = forms.ChoiceField(label=_("Provider"), choices=Provider.choices)
    file = forms.FileField(label=_("Settlement file (CSV)"))


class StatementsIssueForm(forms.Form):
    period_end = forms.DateField(
        label=_("Completed trainings up to"), widget=DateInput(), initial=timezone.localdate
    )


class StatementPaidForm(forms.Form):
    reference = forms.CharField(label=_("Transfer reference"), max_length=64)
