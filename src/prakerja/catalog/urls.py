from django.urls import path

from prakerja.catalog import views

app_name = "catalog"
urlpatterns = [
    path("pelatihan/", views.catalogue, name="catalogue"),
    path("pelatihan/<int:pk>/", views.training_page, name="training"),
    path("mitra/pelatihan/", views.institution_trainings, name="institution_trainings"),
    path("mitra/pelatihan/<int:pk>/", views.institution_training, name="institution_training"),
    path("mitra/pelatihan/<int:pk>/sesi/", views.session_add, name="session_add"),
    path(
        "mitra/pelatihan/<int:pk>/sesi/<int:session_pk>/hapus/", views.session_remove, name="session_remove"
    ),
    path("mitra/pelatihan/<int:pk>/ajukan/", views.training_submit, name="training_submit"),
    path("mitra/etalase/", views.platform_shelf, name="platform_shelf"),
    path("mitra/etalase/<int:pk>/jual/", views.listing_create, name="listing_create"),
    path("mitra/etalase/daftar/<int:pk>/tarik/", views.listing_withdraw, name="listing_withdraw"),
    path("pmo/pelatihan/", views.curation_queue, name="curation_queue"),
    path("pmo/pelatihan/harga/", views.prices, name="prices"),
    path("pmo/pelatihan/serapan/", views.uptake, name="uptake"),
    path("pmo/pelatihan/<int:pk>/", views.curation_detail, name="curation_detail"),
    path("pmo/ulasan/", views.reviews, name="reviews"),
    path("pmo/ulasan/<int:pk>/", views.review_moderate, name="review_moderate"),
]
