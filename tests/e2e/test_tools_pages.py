"""The operators' other pages in a real browser, each without a console error: the API
docs (Swagger UI from drf-spectacular-sidecar, no CDN), GraphiQL (DEBUG only; its files
served by PCF, resources/graphql/ide.py) running a query, and Flower behind its login."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.helpers import FLOWER_LOGIN, Console, Flower, new_page
from tests.live_server import LiveServer, live_server
from tests.tenants import Tenant
from tests.worker_fixtures import Workers

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs(browser: Browser, console: Console, server: LiveServer) -> None:
    # when a developer opens the API docs
    page = new_page(browser, console, server.base)
    page.goto("/v1/docs")
    # then Swagger UI renders the operations of the schema it fetched
    paths = page.locator(".opblock-summary-path")
    expect(paths.filter(has_text="/v1/import/resources")).to_be_visible()
    expect(paths.filter(has_text="/v1/jobs/{job_id}").first).to_be_visible()


def test_graphiql_with_debug(browser: Browser, console: Console, transactional_db: None) -> None:
    # given a DEBUG web process (GraphiQL is never served without DEBUG) and a token
    tenant = Tenant("graphiql-e2e")
    with live_server(DEBUG="true") as debug:
        headers = json.dumps({"Authorization": f"Bearer {tenant.token}"})
        query = {"q": "{ __typename }", "headers": headers}
        page = new_page(browser, console, debug.base)
        # when a developer opens it with their token and runs a query
        page.goto(f"/v1/graphql?{urlencode(query, quote_via=quote)}")
        expect(page.locator(".graphiql-container .graphiql-query-editor")).to_be_visible()
        page.click(".graphiql-execute-button")
        # then the answer comes back from the API, with the schema loaded for the editor
        expect(page.locator(".graphiql-response")).to_contain_text('"__typename": "Query"')


def test_flower(browser: Browser, console: Console, flower: Flower, celery_worker: Workers) -> None:
    # when an operator opens Flower with its login
    user, password = FLOWER_LOGIN
    page = new_page(
        browser, console, flower.url, http_credentials={"username": user, "password": password}
    )
    page.goto("/")
    # then the workers page renders, and the tasks and broker pages too
    expect(page.locator("#workers-table")).to_be_visible()
    page.goto("/tasks")
    expect(page.locator("#tasks-table")).to_be_visible()
    page.goto("/broker")
    expect(page.locator("h1, h2, h3, table").first).to_be_visible()
