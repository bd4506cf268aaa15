from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "prakerja.payments"
    label = "payments"

    def ready(self) -> None:
        from prakerja.ledger.selectors import check_register
        from prakerja.payments.selectors import payments_check

        check_register(payments_check)
        # Adds the incentives to the participant's registration page (registry.views.participant_section).
        from prakerja.payments import views  # noqa: F401
