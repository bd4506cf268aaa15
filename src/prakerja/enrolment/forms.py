"""Participant forms: withdrawing from a purchase, rating a completed training."""

from django import forms
from django.utils.translation import gettext_lazy as _

from prakerja.catalog.rules import MAX_REVIEW_LENGTH, RATING_MAX, RATING_MIN


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Why are you withdrawing? (optional)"), max_length=200, required=False)


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        coerce=int,
        choices=[(n, str(n)) for n in range(RATING_MAX, RATING_MIN - 1, -1)],
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Your review (optional)"),
        max_length=MAX_REVIEW_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
