from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "prakerja.demo"
    label = "demo"
