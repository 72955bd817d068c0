from django.apps import AppConfig


class PcfConfig(AppConfig):
    name = "pcf"
    verbose_name = "PCF platform"
    default_auto_field = "django.db.models.BigAutoField"
