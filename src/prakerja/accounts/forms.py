from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from prakerja.accounts import services
from prakerja.core.errors import PrakerjaError


class LoginForm(AuthenticationForm):
    """Django's log-in form, with throttling and our messages."""

    def clean(self) -> dict[str, Any]:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username and password:
            try:
                self.user_cache = services.login_check(
                    username=username, password=password, request=self.request
                )
            except PrakerjaError as exc:
                raise forms.ValidationError(exc.detail, code=exc.code) from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"}
        ),
        error_messages={"min_length": _("The code has 6 digits."), "max_length": _("The code has 6 digits.")},
    )

    def clean_code(self) -> str:
        code: str = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise forms.ValidationError(_("The code has digits only."))
        return code


class NewPasswordForm(forms.Form):
    """A new password typed twice; the service checks its strength."""

    password = forms.CharField(
        label=_("Password (at least 10 characters)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class SignupForm(NewPasswordForm):
    field_order = ["email", "phone", "password", "password_again"]
    email = forms.EmailField(label=_("E-mail address"))
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
