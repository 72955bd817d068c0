from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from pcf.errors import error_response
from pcf.exceptions import NotFound, PcfError
from pcf.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
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
    return error_response(NotFound(f"No endpoint at {request.path}"))


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(PcfError())


handler404 = not_found
handler500 = server_error
