from django.urls import re_path

from resources.views import ResourceCollectionView, ResourceDetailView

urlpatterns = [
    re_path(r"^resources/?$", ResourceCollectionView.as_view(), name="resource-list"),
    re_path(
        r"^resources/(?P<resource_id>[^/]+)/?$",
        ResourceDetailView.as_view(),
        name="resource-detail",
    ),
]
