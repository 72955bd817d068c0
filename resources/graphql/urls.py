from django.urls import URLPattern, URLResolver, re_path

from resources.graphql.schema import schema
from resources.graphql.views import PcfGraphQLView

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^graphql/?$", PcfGraphQLView.as_view(schema=schema), name="graphql"),
]
