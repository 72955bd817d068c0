"""PcfClient's resource calls and typed errors against a real uvicorn process."""

from __future__ import annotations

import pytest
from pcf_client import PcfClient
from pcf_client.errors import Conflict, NotFound, Unauthenticated, ValidationError

from tests.client.live import LiveServer, pcf_server, start_server, token  # noqa: F401


def test_crud_round_trip_with_typed_results(pcf_server: LiveServer, token: str) -> None:
    # given a client on a real server
    with PcfClient(pcf_server.url, token) as client:
        # when a resource is created, read, patched and deleted
        created = client.create_resource(name="Report", type="document", metadata={"a": 1})
        fetched = client.get_resource(created.id)
        patched = client.update_resource(
            created.id, status="archived", metadata={"a": None, "b": 2}
        )
        client.delete_resource(created.id)
        # then each answer is a typed Resource, and the deleted one is a NotFound
        assert fetched == created
        assert created.created_at is not None and created.created_at.tzinfo is not None
        assert patched.status == "archived" and patched.metadata == {"b": 2}
        with pytest.raises(NotFound) as missing:
            client.get_resource(created.id)
        assert missing.value.code == "NOT_FOUND" and missing.value.status == 404


def test_errors_carry_code_message_and_details(pcf_server: LiveServer, token: str) -> None:
    with PcfClient(pcf_server.url, token) as client:
        with pytest.raises(ValidationError) as invalid:
            client.create_resource(name="", type="spreadsheet")
        fields = {d.field for d in invalid.value.details}
        assert invalid.value.code == "VALIDATION_ERROR" and {"name", "type"} <= fields
        client.create_resource(id="fixed-1", name="x", type="other")
        with pytest.raises(Conflict):
            client.create_resource(id="fixed-1", name="y", type="other")
    with PcfClient(pcf_server.url, "pcf_wrong") as stranger, pytest.raises(Unauthenticated):
        stranger.get_resource("fixed-1")


def test_list_follows_cursors_with_filters(pcf_server: LiveServer, token: str) -> None:
    # given 7 drafts and 3 active resources
    with PcfClient(pcf_server.url, token) as client:
        for i in range(10):
            client.create_resource(
                name=f"r{i}", type="image", status="draft" if i < 7 else "active"
            )
        # when listed 3 to a page
        drafts = list(client.list_resources(status="draft", page_size=3))
        # then every draft comes once, in creation order, across 3 pages
        assert [r.name for r in drafts] == [f"r{i}" for i in range(7)]


def test_token_and_url_come_from_the_environment(
    pcf_server: LiveServer, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCF_URL", pcf_server.url + "/v1/")
    monkeypatch.setenv("PCF_TOKEN", token)
    with PcfClient() as client:
        assert client.create_resource(name="env", type="audio").name == "env"
