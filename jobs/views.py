"""REST faces of the job engine: parse, call one selector or service, render.
The SSE stream lives in jobs/sse.py (an async view)."""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.csv_export import error_csv, error_csv_sync
from jobs.models import ACTIVE_STATUSES
from jobs.parsing import parse_errors_format
from jobs.representation import delivery_data, error_data, job_data, webhook_secret_data
from pcf.auth import tenant_of
from pcf.exceptions import Conflict
from pcf.pagination import parse_limit


class JobCollectionView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("status", "type", "limit", "cursor")],
        responses={200: dict},
        operation_id="jobs_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        rows, next_cursor = selectors.job_list(
            tenant=tenant_of(request),
            status=params.get("status"),
            type=params.get("type"),
            limit=parse_limit(params.get("limit")),
            cursor=params.get("cursor"),
        )
        return Response({"data": [job_data(j) for j in rows], "meta": {"next_cursor": next_cursor}})


class JobDetailView(APIView):
    @extend_schema(responses={200: dict}, operation_id="jobs_retrieve")
    def get(self, request: Request, job_id: str) -> Response:
        return Response(job_data(selectors.job_get(tenant=tenant_of(request), job_id=job_id)))


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: dict}, operation_id="jobs_cancel")
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(tenant=tenant_of(request), job_id=job_id)
        return Response(job_data(services.job_cancel(job=job)))


class JobErrorsView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("format", "limit", "cursor")],
        responses={200: dict},
        operation_id="jobs_errors",
    )
    def get(self, request: Request, job_id: str) -> Response | StreamingHttpResponse:
        job = selectors.job_get(tenant=tenant_of(request), job_id=job_id)
        if parse_errors_format(request.query_params.get("format")) == "csv":
            # Each server kind streams its own kind of iterator without buffering it.
            asgi = isinstance(request._request, ASGIRequest)
            text = error_csv(job.id) if asgi else error_csv_sync(job.id)
            response = StreamingHttpResponse(text, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{job.id}-errors.csv"'
            return response
        rows, next_cursor = selectors.job_errors_page(
            job=job,
            limit=parse_limit(request.query_params.get("limit")),
            cursor=request.query_params.get("cursor"),
        )
        return Response(
            {"data": [error_data(e) for e in rows], "meta": {"next_cursor": next_cursor}}
        )


class JobResultsView(APIView):
    @extend_schema(responses={200: dict}, operation_id="jobs_results")
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(tenant=tenant_of(request), job_id=job_id)
        if job.status in ACTIVE_STATUSES:
            raise Conflict(f"Job {job.id} is still {job.status}; results come when it finishes")
        return Response(selectors.job_results(job=job))


class JobWebhooksView(APIView):
    @extend_schema(responses={200: dict}, operation_id="jobs_webhooks")
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(tenant=tenant_of(request), job_id=job_id)
        return Response({"data": [delivery_data(d) for d in selectors.job_deliveries(job=job)]})


class WebhookSecretView(APIView):
    @extend_schema(responses={200: dict}, operation_id="webhooks_secret")
    def get(self, request: Request) -> Response:
        return Response(webhook_secret_data(tenant_of(request).webhook_secret))


class WebhookSecretRotateView(APIView):
    @extend_schema(request=None, responses={200: dict}, operation_id="webhooks_secret_rotate")
    def post(self, request: Request) -> Response:
        secret = services.webhook_secret_rotate(tenant=tenant_of(request))
        return Response(webhook_secret_data(secret))
