from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Extra chunk handler modules (e.g. tests' handlers, also in worker processes).
        for module in settings.PCF_EXTRA_HANDLER_MODULES:
            import_module(module)
        # The engine's backlog gauges, computed from PostgreSQL at each /metrics scrape.
        from jobs.metrics import BacklogCollector  # needs the models loaded
        from pcf.metrics import register_scrape_collector

        register_scrape_collector(BacklogCollector())
