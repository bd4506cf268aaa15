from django.apps import AppConfig


class EnrolmentConfig(AppConfig):
    name = "prakerja.enrolment"
    label = "enrolment"
