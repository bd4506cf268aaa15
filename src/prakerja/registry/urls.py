from django.urls import path

from prakerja.registry import views

app_name = "registry"
urlpatterns = [
    path("daftar/profil/", views.register_profile, name="register"),
    path("pendaftaran/", views.my_registration, name="mine"),
    path("pendaftaran/banding/<str:rule_code>/", views.appeal_new, name="appeal_new"),
    path("pmo/banding/", views.appeal_list, name="appeals"),
    path("pmo/daftar-pengecualian/", views.exclusion_lists, name="exclusions"),
    path("pmo/banding/<int:pk>/", views.appeal_detail, name="appeal"),
    path("pmo/banding/<int:pk>/bukti/", views.appeal_evidence, name="appeal_evidence"),
    path("tes/", views.aptitude_intro, name="aptitude"),
    path("tes/soal/", views.aptitude_questions, name="aptitude_questions"),
    path("tes/jawab/", views.aptitude_answer, name="aptitude_answer"),
    path("tes/selesai/", views.aptitude_finish, name="aptitude_finish"),
    path("pmo/pendaftar/", views.applicant_list, name="applicants"),
    path("pmo/pendaftar/ringkasan/", views.applicant_counts, name="counts"),
    path("pmo/pendaftar/<int:pk>/", views.applicant_detail, name="applicant"),
]
