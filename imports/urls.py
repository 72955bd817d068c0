from django.urls import URLPattern, URLResolver, path

from imports.views import BulkImportView, CsvImportView

urlpatterns: list[URLPattern | URLResolver] = [
    path("import/resources", CsvImportView.as_view(), name="import-resources"),
    path("bulk/resources", BulkImportView.as_view(), name="bulk-import-resources"),
]
