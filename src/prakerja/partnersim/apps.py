from django.apps import AppConfig


class PartnerSimConfig(AppConfig):
    name = "prakerja.partnersim"
    label = "partnersim"
