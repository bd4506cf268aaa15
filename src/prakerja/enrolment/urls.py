from django.urls import path, re_path

from prakerja.enrolment import views

app_name = "enrolment"
urlpatterns = [
    path("verify/kunci-publik/", views.public_key, name="public_key"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("pendaftaran/pelatihan/", views.my_trainings, name="mine"),
    path("pendaftaran/pelatihan/<int:pk>/batal/", views.purchase_cancel, name="cancel"),
    path("pendaftaran/pelatihan/<int:pk>/ulasan/", views.training_rate, name="rate"),
    re_path(
        r"^pendaftaran/sertifikat/(?P<code>[A-Za-z0-9]{1,16})\.pdf$",
        views.certificate_download,
        name="certificate",
    ),
    path("mitra/penjualan/", views.platform_sales, name="platform_sales"),
    path("mitra/peserta/", views.institution_participants, name="institution_participants"),
    path("pmo/pembelian/", views.pmo_purchases, name="pmo_purchases"),
    path("pmo/pembelian/janggal/", views.pmo_implausible, name="pmo_implausible"),
]
