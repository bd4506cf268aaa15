from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "prakerja.catalog"
    label = "catalog"
