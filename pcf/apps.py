from django.apps import AppConfig


class PcfConfig(AppConfig):
    name = "pcf"
    verbose_name = "PCF platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI extension for our bearer authentication.
        from pcf import openapi  # noqa: F401
