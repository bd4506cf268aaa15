from django.urls import path

from prakerja.waves import views

app_name = "waves"
urlpatterns = [
    path("pmo/gelombang/", views.wave_list, name="list"),
    path("pmo/gelombang/simulasi/", views.wave_simulate, name="simulate"),
    path("pmo/gelombang/<int:number>/", views.wave_detail, name="detail"),
    path("pmo/gelombang/<int:number>/buka/", views.wave_open, name="open"),
    path("pmo/gelombang/<int:number>/komitmen/", views.wave_commit, name="commit"),
    path("pmo/gelombang/<int:number>/tutup/", views.wave_close, name="close"),
    path("pmo/gelombang/<int:number>/undi/", views.wave_select, name="select"),
    path("pmo/gelombang/<int:number>/umumkan/", views.wave_announce, name="announce"),
    path("pmo/gelombang/<int:number>/keadilan/", views.wave_fairness, name="fairness"),
    path("gelombang/<int:number>/undian/", views.draw_public, name="draw"),
    path("gelombang/<int:number>/undian/masukan.csv", views.draw_inputs, name="draw_inputs"),
    path("gelombang/<int:number>/undian/manifes.json", views.draw_manifest, name="draw_manifest"),
    path("pendaftaran/gelombang/ikut/", views.wave_join, name="join"),
]
