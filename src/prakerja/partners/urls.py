from django.urls import path

from prakerja.partners import views

app_name = "partners"
urlpatterns = [
    path("mitra/daftar/", views.signup, name="signup"),
    path("mitra/aplikasi/", views.application, name="application"),
    path("mitra/aplikasi/pihak/", views.tie_add, name="tie_add"),
    path("mitra/aplikasi/pihak/<int:pk>/hapus/", views.tie_remove, name="tie_remove"),
    path("mitra/aplikasi/pelatih/", views.trainer_add, name="trainer_add"),
    path("mitra/aplikasi/pelatih/<int:pk>/hapus/", views.trainer_remove, name="trainer_remove"),
    path("mitra/aplikasi/kerja-sama/", views.cooperation, name="cooperation"),
    path("mitra/aplikasi/dokumen/", views.document_upload, name="document_upload"),
    path("mitra/aplikasi/kirim/", views.submit, name="submit"),
    path("mitra/aplikasi/buka-kembali/", views.reopen, name="reopen"),
    path("mitra/kredensial/", views.credentials, name="credentials"),
    path("mitra/webhook/", views.webhook, name="webhook"),
    path("mitra/dokumen/<int:pk>/", views.document_download, name="document"),
    path("pmo/mitra/", views.partner_list, name="pmo_list"),
    path("pmo/mitra/konflik/", views.conflict_list, name="conflicts"),
    path("pmo/mitra/<int:pk>/", views.partner_detail, name="pmo_detail"),
    path("pmo/mitra/<int:pk>/tinjau/", views.review_start, name="review_start"),
    path("pmo/mitra/<int:pk>/penilaian/", views.screen, name="screen"),
    path("pmo/mitra/<int:pk>/putusan/", views.verdict_propose, name="verdict_propose"),
    path("pmo/mitra/<int:pk>/putusan/periksa/", views.verdict_check, name="verdict_check"),
    path("pmo/mitra/<int:pk>/perjanjian/", views.agreement, name="agreement"),
    path("pmo/mitra/<int:pk>/kredensial/", views.credentials_manage, name="credentials_manage"),
    path("pmo/mitra/<int:pk>/tangguhkan/", views.suspend, name="suspend"),
    path("pmo/mitra/<int:pk>/pulihkan/", views.reinstate, name="reinstate"),
]
