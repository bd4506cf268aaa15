from django.apps import AppConfig


class WavesConfig(AppConfig):
    name = "prakerja.waves"
    label = "waves"

    def ready(self) -> None:
        # Adds the participant's waves to their registration page (registry.views.participant_section).
        from prakerja.waves import views  # noqa: F401
