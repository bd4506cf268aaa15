from django.urls import path

from prakerja.regions import views

app_name = "regions"
urlpatterns = [path("wilayah/", views.lookup, name="lookup")]
