from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "prakerja.ledger"
    label = "ledger"
