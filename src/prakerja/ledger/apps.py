from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "prakerja.ledger"
    label = "ledger"

    def ready(self) -> None:
        from prakerja.ledger.selectors import check_register
        from prakerja.registry.selectors import registry_check

        # The registry comes before the ledger (it may not import it): its check is registered from here.
        check_register(registry_check)
