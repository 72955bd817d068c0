"""ASGI entry point: Server-Sent Events need long-lived responses without a thread each."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")
if not settings.configured:
    # A web server process: share a bounded connection pool (PCF_DB_POOL in settings).
    # Not when settings are already loaded (tests import this module in-process).
    os.environ.setdefault("PCF_DB_POOL", "true")
application = get_asgi_application()
