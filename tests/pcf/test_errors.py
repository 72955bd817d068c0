"""One error shape for every error (API.md: Error shape): over HTTP for each status the
foundation produces, and the mapping in pcf.errors for the rest."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, RequestFactory
from django.urls import include, path
from rest_framework import exceptions as drf
from rest_framework.test import APIClient

from pcf import exceptions as pcf_exc
from pcf.errors import as_pcf_error, error_response
from pcf.urls import server_error
from tests.resources.helpers import assert_error, create


def _boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("secret-detail-xyz in /srv/app/internal.py")


# This module doubles as a URLconf (see test_plain_view_crash_*): the real routes plus
# one plain Django view that crashes, to reach handler500 outside DRF.
urlpatterns = [path("boom", _boom), path("", include("pcf.urls"))]
handler500 = "pcf.urls.server_error"
handler404 = "pcf.urls.not_found"


# --- 400 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_validation_error_has_per_field_details(api: APIClient) -> None:
    # given a create body with a bad type and an empty name
    # when posted
    response = api.post("/v1/resources", {"name": "", "type": "x"}, format="json")
    # then 400 with one detail per field
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert sorted(d["field"] for d in error["details"]) == ["name", "type"]
    assert all(d["message"] for d in error["details"])


@pytest.mark.django_db
@pytest.mark.parametrize("body", ['{"name": "x",', "{'name': 'x'}", "nul", "{]", '{"a":1}}'])
def test_malformed_json_is_400(api: APIClient, body: str) -> None:
    # given a body that is not valid JSON
    # when posted as application/json
    response = api.generic("POST", "/v1/resources", body, content_type="application/json")
    # then 400 VALIDATION_ERROR in the shape
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "Traceback" not in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [20, 600, 900, 1_000, 100_000])
def test_absurdly_nested_json_is_400_not_500(api: APIClient, depth: int) -> None:
    # given a body nested far beyond any limit (as metadata, and as the whole body)
    nested = "[" * depth + "]" * depth
    in_metadata = '{"name": "x", "type": "document", "metadata": {"a": ' + nested + "}}"
    # when posted
    responses = [
        api.generic("POST", "/v1/resources", body, content_type="application/json")
        for body in (in_metadata, nested)
    ]
    # then 400 each time (Python's json and json.dumps raise RecursionError past some
    # hundreds of levels, which used to escape as a 500)
    for response in responses:
        assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", ["[]", '[{"name": "x", "type": "document"}]', '"text"', "42", "null"]
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_json_body_that_is_not_an_object_is_400(api: APIClient, body: str, method: str) -> None:
    # given a JSON list, string, number or null
    target = create(api)["id"] if method == "PATCH" else ""
    url = f"/v1/resources/{target}" if target else "/v1/resources"
    # when sent as the body
    response = api.generic(method, url, body, content_type="application/json")
    # then 400 saying it must be an object
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "object" in error["message"]


@pytest.mark.django_db
def test_unknown_fields_are_400_with_their_names(api: APIClient) -> None:
    # given a body with an unknown field / when posted / then it is named
    response = api.post("/v1/resources", {"name": "a", "type": "image", "size": 3}, format="json")
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "size", "message": "Unknown field"}]


# --- 401 --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Bearer", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "abc"],
)
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/v1/resources"),
        ("post", "/v1/resources"),
        ("get", "/v1/resources/x"),
        ("patch", "/v1/resources/x"),
        ("delete", "/v1/resources/x"),
    ],
)
def test_missing_wrong_or_malformed_token_is_401(
    tenant: Any, header: str | None, method: str, url: str
) -> None:
    # given a request without a valid bearer token
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    # when any resource endpoint is called
    response = getattr(client, method)(url, {"name": "x", "type": "document"}, format="json")
    # then 401 UNAUTHENTICATED with a Bearer challenge
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- 404 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_id_is_404(api: APIClient) -> None:
    # given no such resource / when fetched / then 404 in the shape
    assert_error(api.get("/v1/resources/res_nothing"), 404, "NOT_FOUND")


@pytest.mark.django_db
@pytest.mark.parametrize("resource_id", ["a%00b", "%C3%A9t%C3%A9", "x" * 65, "a%20b"])
def test_ids_that_cannot_exist_are_404_not_500(api: APIClient, resource_id: str) -> None:
    # given ids no resource can have (U+0000, non-ASCII, too long, space)
    # when fetched, patched, deleted
    # then 404 each time (U+0000 used to reach PostgreSQL and fail with a 500)
    assert_error(api.get(f"/v1/resources/{resource_id}"), 404, "NOT_FOUND")
    patched = api.patch(f"/v1/resources/{resource_id}", {"name": "x"}, format="json")
    assert_error(patched, 404, "NOT_FOUND")
    assert_error(api.delete(f"/v1/resources/{resource_id}"), 404, "NOT_FOUND")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/v1/nothing-here", "/v2/resources", "/nope", "/v1/resources/a/b"])
def test_unknown_url_is_404_in_the_shape(api: APIClient, anon: APIClient, url: str) -> None:
    # given a URL that no route serves
    # when called with and without a token
    # then 404 NOT_FOUND in the shape both times
    assert_error(api.get(url), 404, "NOT_FOUND")
    assert_error(anon.get(url), 404, "NOT_FOUND")


# --- 405 --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("put", "/v1/resources/x"),
        ("post", "/v1/resources/x"),
        ("put", "/v1/resources"),
        ("delete", "/v1/resources"),
        ("patch", "/v1/resources"),
    ],
)
def test_wrong_method_is_405_with_allow(api: APIClient, method: str, url: str) -> None:
    # given a route that does not serve this method
    # when called
    response = getattr(api, method)(url, {}, format="json")
    # then 405 METHOD_NOT_ALLOWED, with the allowed methods
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert method.upper() not in response["Allow"].split(", ")


# --- 415 --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data; boundary=x",
    ],
)
def test_wrong_content_type_is_415(api: APIClient, content_type: str) -> None:
    # given a resource and a body in another format
    created = create(api)
    body = '{"name": "x", "type": "document"}'
    # when posted or patched with that content type
    posted = api.generic("POST", "/v1/resources", body, content_type=content_type)
    patched = api.generic(
        "PATCH", f"/v1/resources/{created['id']}", body, content_type=content_type
    )
    # then 415 UNSUPPORTED_MEDIA_TYPE and nothing is written
    assert_error(posted, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(patched, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert api.get(f"/v1/resources/{created['id']}").json()["data"]["name"] == created["name"]


# --- 500 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_crash_in_an_api_view_is_500_without_a_trace(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a selector that crashes
    def explode(**kwargs: Any) -> None:
        raise RuntimeError("secret-detail-xyz in /srv/app/internal.py")

    monkeypatch.setattr("resources.selectors.resource_get", explode)
    # when the endpoint is called
    response = api.get("/v1/resources/anything")
    # then 500 INTERNAL, and nothing of the exception reaches the client
    error = assert_error(response, 500, "INTERNAL")
    text = response.content.decode()
    for leak in ("Traceback", "secret-detail-xyz", "RuntimeError", "internal.py", 'File "'):
        assert leak not in text
    assert error["details"] == []
    # but it is logged for the operators
    assert "secret-detail-xyz" in caplog.text


@pytest.mark.django_db
@pytest.mark.urls("tests.pcf.test_errors")
def test_crash_in_a_plain_view_is_500_without_a_trace() -> None:
    # given a plain Django view that crashes (not DRF: handler500 answers)
    client = Client(raise_request_exception=False)
    # when it is called
    response = client.get("/boom")
    # then the same shape, no trace
    assert_error(response, 500, "INTERNAL")
    assert b"secret-detail-xyz" not in response.content
    assert b"Traceback" not in response.content


def test_handler500_answers_the_shape() -> None:
    # given any request / when the 500 handler runs / then JSON in the shape
    response = server_error(RequestFactory().get("/x"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert_error(response, 500, "INTERNAL")


# --- the mapping itself -----------------------------------------------------------------

CONTRACT = {
    "VALIDATION_ERROR": 400,
    "UNAUTHENTICATED": 401,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "BATCH_TOO_LARGE": 413,
    "RESPONSE_TOO_LARGE": 413,  # v1.1: an answer past the response budget
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
    "TIMEOUT": 504,
    "SKIPPED": 424,
    "ROLLED_BACK": 424,
}


def _all_error_classes() -> list[type[pcf_exc.PcfError]]:
    found = [pcf_exc.PcfError]
    for cls in found:
        found += [c for c in cls.__subclasses__() if c.__module__ == "pcf.exceptions"]
    return found


def test_every_contract_code_has_its_status() -> None:
    # given the exception hierarchy
    classes = _all_error_classes()
    # when their codes and statuses are collected
    table = {cls.code: cls.http_status for cls in classes}
    # then every contract code exists with the contract's status
    assert table == CONTRACT


@pytest.mark.parametrize("cls", _all_error_classes())
def test_as_dict_is_the_contract_shape(cls: type[pcf_exc.PcfError]) -> None:
    # given an error of each class / when rendered / then code, message and details
    error = (
        cls() if cls is pcf_exc.Unauthenticated else cls("msg", [{"field": "f", "message": "m"}])
    )
    body = error.as_dict()
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == cls.code and body["error"]["message"]


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        (drf.NotAuthenticated(), "UNAUTHENTICATED", 401),
        (drf.AuthenticationFailed("bad"), "UNAUTHENTICATED", 401),
        (drf.PermissionDenied(), "UNAUTHENTICATED", 401),
        (drf.NotFound(), "NOT_FOUND", 404),
        (drf.MethodNotAllowed("PUT"), "METHOD_NOT_ALLOWED", 405),
        (drf.UnsupportedMediaType("text/csv"), "UNSUPPORTED_MEDIA_TYPE", 415),
        (drf.ParseError("bad json"), "VALIDATION_ERROR", 400),
        (drf.Throttled(wait=7), "RATE_LIMITED", 429),
        (ValueError("boom"), "INTERNAL", 500),
        (KeyError("boom"), "INTERNAL", 500),
    ],
)
def test_foreign_exceptions_map_to_contract_codes(exc: Exception, code: str, status: int) -> None:
    # given an exception from DRF or Python / when mapped / then the contract's code
    error = as_pcf_error(exc)
    assert (error.code, error.http_status) == (code, status)
    assert "boom" not in error.message


def test_throttled_carries_retry_after() -> None:
    # given DRF's throttle with a wait / when mapped / then Retry-After is set
    response = error_response(as_pcf_error(drf.Throttled(wait=7)))
    assert response.status_code == 429 and response["Retry-After"] == "7"


def test_nested_drf_validation_details_are_flattened() -> None:
    # given a nested DRF validation error
    exc = drf.ValidationError({"a": ["bad"], "b": {"c": ["worse"]}, "non_field_errors": ["x"]})
    # when mapped
    error = as_pcf_error(exc)
    # then one detail per message with dotted field paths
    assert error.details == [
        {"field": "a", "message": "bad"},
        {"field": "b.c", "message": "worse"},
        {"field": "", "message": "x"},
    ]


def test_unauthenticated_response_has_the_challenge_header() -> None:
    # given the 401 error / when rendered outside DRF / then WWW-Authenticate is there
    response = error_response(pcf_exc.Unauthenticated())
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="pcf"'


@pytest.mark.django_db
def test_a_body_over_the_json_cap_is_413_not_500(tenant, settings) -> None:
    # given a cap of 1 KiB on request bodies
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    # when a larger JSON body is posted
    body = '{"name": "' + "x" * 2000 + '", "type": "document"}'
    response = tenant.api.post("/v1/resources", body, content_type="application/json")
    # then it is a 413 in the contract shape
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
