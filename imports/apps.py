from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "imports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the csv_import / bulk_import chunk handlers (web and workers alike).
        from imports import handlers  # noqa: F401
