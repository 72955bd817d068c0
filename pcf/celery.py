"""The Celery app. Workers read CELERY_* from Django settings."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")

app = Celery("pcf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
