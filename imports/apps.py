import csv

from django.apps import AppConfig
from django.conf import settings


class ImportsConfig(AppConfig):
    name = "imports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the csv_import / bulk_import chunk handlers (web and workers alike).
        from imports import handlers  # noqa: F401

        # Cells up to the record cap must reach the row checks: Python's csv refuses a
        # field over 128 KiB by default, which failed a whole chunk for one long cell.
        # The limit is process-wide in the csv module; raising it only accepts more.
        limit = int(settings.PCF_CSV_MAX_RECORD_BYTES)
        if csv.field_size_limit() < limit:
            csv.field_size_limit(limit)
