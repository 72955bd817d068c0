"""Webhook targets hidden in IPv6 forms, and webhooks in query strings (issue 11, item 11)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from jobs import netguard, webhooks
from jobs.models import Job
from jobs.parsing import parse_webhook_option
from pcf.exceptions import ValidationError
from tests.imports.helpers import upload
from tests.resources.helpers import assert_error

pytestmark = [pytest.mark.django_db]

# Each hides a loopback or private IPv4 address behind an IPv6 form.
HIDDEN_PRIVATE = [
    "64:ff9b::a00:1",  # NAT64 (RFC 6052) of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
    "2002:a00:1::1",  # 6to4 (RFC 3056) of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (RFC 4380)
    "::a00:1",  # IPv4-compatible (deprecated) ::10.0.0.1
    "::7f00:1",  # IPv4-compatible ::127.0.0.1
    "::ffff:0:a00:1",  # IPv4-translated (RFC 2765) of 10.0.0.1
    "fec0::1",  # site-local (deprecated)
]
PUBLIC = ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2001:4860:4860::8888"]


@pytest.fixture(autouse=True)
def _private_refused(settings: Any) -> None:
    settings.PCF_WEBHOOK_ALLOW_PRIVATE = False


@pytest.mark.parametrize("address", HIDDEN_PRIVATE)
def test_a_private_address_hidden_in_ipv6_is_refused_at_creation(address: str) -> None:
    # when a webhook targets it, then the option is refused
    with pytest.raises(ValidationError) as caught:
        parse_webhook_option({"url": f"http://[{address}]:8080/hook"})
    assert caught.value.details[0]["field"] == "webhook.url"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_in_the_same_forms_are_accepted(address: str) -> None:
    # when a webhook targets a public IPv4 behind the same forms, then it is accepted
    option = parse_webhook_option({"url": f"http://[{address}]/hook"})
    assert option is not None
    netguard.check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::1", "::7f00:1"])
def test_a_hidden_private_address_is_refused_at_delivery(address: str) -> None:
    # given a webhook stored before the rule (or by a setting since turned off)
    # when it is delivered, then nothing is sent: the attempt is a refusal
    result = webhooks.post(
        url=f"http://[{address}]:9/hook", body="{}", secret="s", delivery_id="d", extra={}
    )
    assert result.error.startswith("refused:") and result.status_code is None


WEBHOOK = {"url": "https://hooks.example.com/import", "headers": {"X-Webhook-Secret": "s3cr3t"}}
CSV = "name,type\na,document\n"


@pytest.mark.parametrize(
    "query",
    [
        {"webhook": json.dumps(WEBHOOK)},
        {"webhook": WEBHOOK["url"]},
        {"options": json.dumps({"webhook": WEBHOOK})},
    ],
)
def test_a_webhook_in_the_query_string_is_refused(tenant: Any, query: dict[str, str]) -> None:
    # when a raw CSV upload names its webhook (and its secret header) in the query string
    response = tenant.api.generic(
        "POST", "/v1/import/resources", CSV, content_type="text/csv", QUERY_STRING=urlencode(query)
    )
    # then it is a 400 on options.webhook, and no job exists
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "options.webhook"
    assert not Job.objects.exists()


def test_a_webhook_in_the_body_is_taken(tenant: Any) -> None:
    # when the same webhook comes in the multipart options part (the cookbook's way)
    response = upload(tenant.api, CSV, {"webhook": WEBHOOK})
    # then it is kept, headers included
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job_id"])
    assert job.webhook is not None and job.webhook["headers"] == WEBHOOK["headers"]
