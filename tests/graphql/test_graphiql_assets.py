"""GraphiQL's files come from PCF, not a CDN (resources/graphql/ide.py), and are the
very files strawberry's page names: each matches the page's integrity hash."""

from __future__ import annotations

import base64
import hashlib
import re

from django.contrib.staticfiles import finders
from strawberry.http.ides import get_graphql_ide_html

from resources.graphql.ide import graphiql_html

_TAG = re.compile(r'(?:src|href)="https://unpkg\.com/([^"]+)"\s+integrity="sha384-([^"]+)"')


def test_every_cdn_file_is_served_here_byte_for_byte() -> None:
    # given the files strawberry's GraphiQL page loads from the CDN, with their hashes
    named = _TAG.findall(get_graphql_ide_html("graphiql"))
    assert len(named) >= 5
    for path, digest in named:
        # when PCF's static files are searched for the same path
        found = finders.find(f"graphiql/{path}")
        # then the file is there, and its SHA-384 is the one the page checks
        assert found, f"graphiql/{path} is not vendored (see its README.md)"
        with open(str(found), "rb") as handle:
            actual = base64.b64encode(hashlib.sha384(handle.read()).digest()).decode()
        assert actual == digest, path


def test_the_page_names_no_cdn() -> None:
    page = graphiql_html()
    assert "unpkg.com" not in page
    assert page.count("/static/graphiql/") >= 5
