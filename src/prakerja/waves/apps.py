from django.apps import AppConfig


class WavesConfig(AppConfig):
    name = "prakerja.waves"
    label = "waves"
