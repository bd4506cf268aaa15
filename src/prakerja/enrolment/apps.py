from django.apps import AppConfig


class EnrolmentConfig(AppConfig):
    name = "prakerja.enrolment"
    label = "enrolment"

    def ready(self) -> None:
        # Adds the participant's trainings to their registration page (registry.views.participant_section).
        from prakerja.enrolment import views  # noqa: F401
