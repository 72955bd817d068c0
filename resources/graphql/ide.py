"""GraphiQL (DEBUG only) without a CDN: strawberry's page, its scripts and styles taken
from resources/static/graphiql/ (the same files, so the page's integrity hashes
still hold) instead of unpkg.com, which a machine without internet access cannot reach."""

from __future__ import annotations

import re

from django.templatetags.static import static
from strawberry.http.ides import get_graphql_ide_html

CDN = re.compile(r"https://unpkg\.com/([^\"']+)")


def graphiql_html() -> str:
    """Strawberry's GraphiQL page with every CDN file served by PCF's static files."""
    return CDN.sub(lambda m: static(f"graphiql/{m.group(1)}"), get_graphql_ide_html("graphiql"))
