from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "prakerja.surveys"
    label = "surveys"

    def ready(self) -> None:
        # Adds the participant's surveys to their registration page (registry.views.participant_section).
        from prakerja.surveys import views  # noqa: F401
