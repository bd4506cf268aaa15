from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from prakerja.accounts import views

app_name = "accounts"
urlpatterns = [
    path("akun/masuk/", views.LoginView.as_view(), name="login"),
    path("daftar/", views.signup, name="signup"),
    path("akun/keluar/", auth_views.LogoutView.as_view(), name="logout"),
    path("akun/", views.home, name="home"),
    path("akun/2fa/", views.second_factor, name="second_factor"),
    path("akun/verifikasi/", views.verify_contact, name="verify"),
    path(
        "akun/lupa-sandi/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/password_reset_email.txt",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "akun/lupa-sandi/terkirim/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "akun/sandi-baru/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "akun/sandi-baru/selesai/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("", views.participant_home, name="participant_home"),
    path("pmo/", views.pmo_home, name="pmo_home"),
    path("mitra/", views.mitra_home, name="mitra_home"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
