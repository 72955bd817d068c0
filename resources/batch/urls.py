from django.urls import URLPattern, URLResolver, re_path

from resources.batch.views import BatchView

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^batch/?$", BatchView.as_view(), name="batch"),
]
