from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from pcf.errors import error_response, internal_error
from pcf.exceptions import NotFound
from pcf.health import healthz
from pcf.metrics_http import metrics_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # Browsers ask every site for /favicon.ico (the admin names none): a 404 there is a
    # console error on every admin page.
    path("favicon.ico", RedirectView.as_view(url=static("pcf/favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    path(
        "v1/openapi.json",
        # The JSON view: the plain one answers YAML by default, despite the .json name.
        SpectacularJSONAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="openapi",
    ),
    path(
        "v1/docs",
        SpectacularSwaggerView.as_view(
            url_name="openapi", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    path("v1/", include("resources.urls")),
    path("v1/", include("resources.batch.urls")),
    path("v1/", include("resources.bulk.urls")),
    path("v1/", include("resources.graphql.urls")),
    path("v1/", include("imports.urls")),
    path("v1/", include("jobs.urls")),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    path = request.path if len(request.path) <= 200 else request.path[:200] + "…"
    return error_response(NotFound(f"No endpoint at {path}"))


def server_error(request: HttpRequest) -> JsonResponse:
    # Django logs the exception itself ("Internal Server Error: <path>"); this line ties
    # the reference the client sees to it.
    return error_response(
        internal_error(None, context=f"internal server error on {request.method} {request.path}")
    )


handler404 = not_found
handler500 = server_error
