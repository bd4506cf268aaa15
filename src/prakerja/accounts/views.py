"""Log-in, second factor, contact verification and each role's home page."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prakerja.accounts import selectors, services
from prakerja.accounts.forms import CodeForm, LoginForm, SignupForm
from prakerja.accounts.middleware import SESSION_KEY
from prakerja.accounts.models import Purpose, User
from prakerja.accounts.permissions import can, require
from prakerja.core.errors import InvalidInput, PrakerjaError


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    return redirect(selectors.home_url(request.user))


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    enrolling = user.totp_confirmed_at is None
    uri = services.totp_begin(user=user) if enrolling and not user.totp_secret else None
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_check(user=user, code=form.cleaned_data["code"])
        except PrakerjaError as exc:
            form.add_error("code", exc.detail)
        else:
            request.session[SESSION_KEY] = True
            return redirect(selectors.home_url(user))
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "enrolling": enrolling,
            "uri": uri,
            "secret": user.totp_secret if enrolling else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def verify_contact(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = CodeForm()
    chosen = request.POST.get("purpose", "")
    purpose = Purpose(chosen) if chosen in Purpose.values else Purpose.VERIFY_EMAIL
    if request.method == "POST":
        try:
            if "send" in request.POST:
                services.otp_send(user=user, purpose=purpose)
                messages.success(request, _("We sent you a code. Enter it below."))
            else:
                form = CodeForm(request.POST)
                if form.is_valid():
                    services.otp_verify(user=user, purpose=purpose, code=form.cleaned_data["code"])
                    messages.success(request, _("Verified. Thank you."))
                    return redirect(request.get_full_path())
        except PrakerjaError as exc:
            messages.error(request, exc.detail)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    return render(
        request, "accounts/verify.html", {"form": form, "form_purpose": purpose, "u": user, "next": next_url}
    )


def participant_home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/participant_home.html")


@require("pmo.view")
def pmo_home(request: HttpRequest) -> HttpResponse:
    # Verifying the whole chain reads every entry: it is a command (`prakerja audit verify`), not a page load.
    actions = (
        "applicants.view",
        "appeals.view",
        "exclusions.view",
        "waves.view",
        "catalog.view",
        "partners.view",
        "surveys.view",
        "payments.view",
    )
    allowed = {a for a in actions if can(request.user, a)}
    return render(
        request, "accounts/pmo_home.html", {"summary": selectors.programme_summary(), "allowed": allowed}
    )


@require("mitra.view")
def mitra_home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/mitra_home.html")


def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/dashboard.html", {"summary": selectors.programme_summary()})


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(selectors.home_url(request.user))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.participant_signup(
                email=form.cleaned_data["email"],
                phone=form.cleaned_data["phone"],
                password=form.cleaned_data["password"],
            )
        except InvalidInput as exc:
            for problem in exc.problems:
                form.add_error(
                    problem["field"] if problem["field"] in form.fields else None, problem["message"]
                )
        except PrakerjaError as exc:
            form.add_error(None, exc.detail)
        else:
            login(request, user)
            messages.success(request, _("Account created. We sent codes to your e-mail and your phone."))
            return redirect(f"{reverse('accounts:verify')}?next=/daftar/profil/")
    return render(request, "accounts/signup.html", {"form": form})
