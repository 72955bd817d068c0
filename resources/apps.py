from django.apps import AppConfig


class ResourcesConfig(AppConfig):
    name = "resources"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the async batch chunk handler with the job engine.
        from resources.batch import handlers  # noqa: F401
        from resources.bulk import handlers as bulk_handlers  # noqa: F401
