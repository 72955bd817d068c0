"""ASGI entry point: Server-Sent Events need long-lived responses without a thread each."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")
application = get_asgi_application()
