from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "prakerja.accounts"
    label = "accounts"
