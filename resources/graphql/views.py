"""POST /v1/graphql: bearer auth (a missing or bad token is the REST-shaped 401, as on
every /v1 path), the byte cap, then strawberry's async Django view. Everything after
auth answers GraphQL-over-HTTP JSON: {"data", "errors"}, codes in `extensions.code`."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from cross_web import HTTPException
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import AsyncGraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from pcf.auth import aclient_from_header
from pcf.errors import error_response
from pcf.exceptions import MethodNotAllowed, PcfError, RateLimited, Unauthenticated
from pcf.throttling import tenant_throttle
from resources.graphql.context import PcfContext, resource_loader
from resources.graphql.errors import format_error, request_error
from resources.graphql.ide import graphiql_html
from resources.graphql.parsing import check_request_shape

_STATUS_CODES = {400: "VALIDATION_ERROR", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def _wants_ide(request: HttpRequest) -> bool:
    """A browser opening the endpoint (strawberry's own test, minus its settings)."""
    accept = request.headers.get("Accept", "")
    return (
        request.method == "GET"
        and "query" not in request.GET
        and any(kind in accept for kind in ("text/html", "*/*"))
    )


def _body_size(request: HttpRequest) -> int:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    return declared


@method_decorator(csrf_exempt, name="dispatch")  # bearer tokens, no cookies: CSRF can't apply
class PcfGraphQLView(AsyncGraphQLView[PcfContext, None]):
    allow_queries_via_get = False  # the contract is POST /graphql; GET serves GraphiQL (DEBUG)
    graphql_ide = "graphiql"

    async def dispatch(  # type: ignore[override]  # async view, as in strawberry's own
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if settings.DEBUG and _wants_ide(request):
            # The page itself holds no data; queries from it still need the bearer token.
            return HttpResponse(graphiql_html())
        try:
            tenant = await aclient_from_header(request.headers.get("Authorization"))
        except Unauthenticated as exc:
            return error_response(exc)
        if request.method != "POST":
            # Decided here, never by strawberry, which would serve GraphiQL (from a CDN)
            # to any GET accepting */*, DEBUG or not. Not a GraphQL request at all, so
            # the REST error shape, as for a 401.
            refusal = error_response(
                MethodNotAllowed(f"{request.method} is not allowed on /v1/graphql; use POST")
            )
            refusal["Allow"] = "POST"
            return refusal
        try:
            # One request counts once, however many batched operations it holds.
            await sync_to_async(tenant_throttle)(tenant)
        except RateLimited as exc:
            return self._error(exc.http_status, exc.code, exc.message, exc.headers)
        limit = settings.PCF_GRAPHQL_MAX_BYTES
        if _body_size(request) > limit or len(request.body) > limit:
            return self._error(
                413, "PAYLOAD_TOO_LARGE", f"GraphQL requests are limited to {limit} bytes"
            )
        request.pcf_tenant = tenant  # type: ignore[attr-defined]
        try:
            response = await self.run(request=request)
        except HTTPException as exc:
            code = _STATUS_CODES.get(exc.status_code, "VALIDATION_ERROR")
            return self._error(exc.status_code, code, exc.reason)
        if getattr(request, "pcf_document_refused", False) and response.status_code == 200:
            # A document past the alias, depth or spread limits ran nothing: a 400.
            response.status_code = 400
        return response

    @staticmethod
    def _error(
        status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> JsonResponse:
        return JsonResponse(request_error(message, code), status=status, headers=headers)

    def decode_json(self, data: str | bytes) -> object:
        """The body as JSON, refused (400) unless it is a GraphQL request or a batch of
        them; strawberry would answer `[]` with 200 and `"query"` with a 500."""
        try:
            decoded = json.loads(data)
        except RecursionError:  # nested past the C scanner's stack
            raise HTTPException(400, "The request body nests too deeply") from None
        except ValueError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        try:
            check_request_shape(decoded)
        except PcfError as exc:
            raise HTTPException(400, exc.message) from None
        return decoded

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> PcfContext:
        tenant = request.pcf_tenant  # type: ignore[attr-defined]
        return PcfContext(
            request=request, response=response, tenant=tenant, resources=resource_loader(tenant)
        )

    async def process_result(
        self, request: HttpRequest, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(error) for error in result.errors]
        return response

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
