"""REST faces of the Resource API: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pcf.auth import tenant_of
from pcf.exceptions import field_error
from pcf.pagination import parse_limit
from resources import selectors, services
from resources.filters import FILTER_KEYS, parse_filter
from resources.representation import resource_data

_PAGING_KEYS = ("limit", "cursor")


def parse_bool_param(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    # Exactly the two spellings of an OpenAPI boolean: "", "1" or "TRUE" would be a
    # guess, and a wrong guess here deletes a row for good.
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise field_error(name, "Must be true or false")


class ResourceCollectionView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, required=False) for name in (*FILTER_KEYS, *_PAGING_KEYS)
        ],
        responses={200: dict},
        operation_id="resources_list",
    )
    def get(self, request: Request) -> Response:
        params: dict[str, Any] = {k: v for k, v in request.query_params.items()}
        paging = {key: params.pop(key, None) for key in _PAGING_KEYS}
        spec = parse_filter(params, ids_from_query=True)
        rows, next_cursor = selectors.resource_list(
            tenant=tenant_of(request),
            spec=spec,
            limit=parse_limit(paging["limit"]),
            cursor=paging["cursor"],
        )
        return Response(
            {"data": [resource_data(r) for r in rows], "meta": {"next_cursor": next_cursor}}
        )

    @extend_schema(request=dict, responses={201: dict}, operation_id="resources_create")
    def post(self, request: Request) -> Response:
        resource = services.resource_create(tenant=tenant_of(request), data=request.data)
        return Response({"data": resource_data(resource)}, status=201)


class ResourceDetailView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, resource_id: str) -> Response:
        resource = selectors.resource_get(tenant=tenant_of(request), resource_id=resource_id)
        return Response({"data": resource_data(resource)})

    @extend_schema(request=dict, responses={200: dict})
    def patch(self, request: Request, resource_id: str) -> Response:
        resource = services.resource_update(
            tenant=tenant_of(request), resource_id=resource_id, data=request.data
        )
        return Response({"data": resource_data(resource)})

    @extend_schema(
        parameters=[OpenApiParameter("soft", bool, required=False)], responses={204: None}
    )
    def delete(self, request: Request, resource_id: str) -> Response:
        soft = parse_bool_param("soft", request.query_params.get("soft"))
        services.resource_delete(tenant=tenant_of(request), resource_id=resource_id, soft=soft)
        return Response(status=204)
