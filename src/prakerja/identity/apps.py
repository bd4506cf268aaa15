from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "prakerja.identity"
    label = "identity"
