"""REST faces of update-by-query and delete-by-filter: parse, call the service, render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.models import Job
from jobs.representation import job_accepted
from pcf.auth import tenant_of
from resources.bulk.parsing import parse_bulk_delete, parse_bulk_update
from resources.bulk.representation import bulk_delete_body, bulk_update_body
from resources.bulk.services import bulk_delete, bulk_update


class BulkResult(Protocol):
    @property
    def job(self) -> Job | None: ...


ParsedT = TypeVar("ParsedT")
ResultT = TypeVar("ResultT", bound=BulkResult)


@dataclass(frozen=True)
class BulkEndpoint(Generic[ParsedT, ResultT]):
    """What tells one bulk endpoint from the other: its parser, its service (called
    with `tenant=` and `request=`) and the representation of a run in the request."""

    parse: Callable[[Any], ParsedT]
    run: Callable[..., ResultT]
    represent: Callable[[ResultT], dict[str, Any]]


class BulkView(APIView):
    # No docstring: drf-spectacular would publish it as both operations' description.
    endpoint: ClassVar[BulkEndpoint[Any, Any]]

    @extend_schema(request=dict, responses={200: dict, 202: dict})
    def post(self, request: Request) -> Response:
        endpoint = self.endpoint
        result = endpoint.run(tenant=tenant_of(request), request=endpoint.parse(request.data))
        if result.job is not None:
            return Response(job_accepted(result.job), status=202)
        return Response(endpoint.represent(result))


class BulkUpdateView(BulkView):
    endpoint = BulkEndpoint(parse_bulk_update, bulk_update, bulk_update_body)


class BulkDeleteView(BulkView):
    endpoint = BulkEndpoint(parse_bulk_delete, bulk_delete, bulk_delete_body)
