from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "prakerja.partners"
    label = "partners"
