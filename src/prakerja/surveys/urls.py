from django.urls import path

from prakerja.surveys import views

app_name = "surveys"
urlpatterns = [
    path("pendaftaran/survei/", views.my_surveys, name="mine"),
    path("pendaftaran/survei/<int:pk>/", views.survey_fill, name="fill"),
    path("pmo/survei/", views.pmo_surveys, name="pmo"),
    path("pmo/survei/instrumen/baru/", views.instrument_edit, name="instrument_create"),
    path("pmo/survei/instrumen/<int:pk>/", views.instrument_edit, name="instrument_edit"),
    path("pmo/survei/jadwal/<slug:code>/", views.schedule_edit, name="schedule_edit"),
    path("pmo/survei/hasil/", views.pmo_outcomes, name="outcomes"),
]
