from django.urls import URLPattern, URLResolver, re_path

from resources.bulk.views import BulkDeleteView, BulkUpdateView

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^bulk-update/resources/?$", BulkUpdateView.as_view(), name="bulk-update"),
    re_path(r"^bulk-delete/resources/?$", BulkDeleteView.as_view(), name="bulk-delete"),
]
