"""ASGI entry point: Server-Sent Events need long-lived responses without a thread each.

pcf.bodyguard sits in front of Django: body caps and the bearer token are checked
before Django reads (and spools) a request body. pcf.request_id wraps both."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pcf.settings")
if not settings.configured:
    # A web server process: share a bounded connection pool (PCF_DB_POOL in settings).
    # Not when settings are already loaded (tests import this module in-process).
    os.environ.setdefault("PCF_DB_POOL", "true")
django_application = get_asgi_application()

from pcf.bodyguard import BodyGuard  # noqa: E402 - needs the apps loaded above
from pcf.request_id import RequestIdASGI  # noqa: E402 - needs the apps loaded above

# Outermost: every log line of a request, even one the body guard refuses, has its id.
application = RequestIdASGI(BodyGuard(django_application))
