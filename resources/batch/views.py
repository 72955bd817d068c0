"""`POST /v1/batch`: parse, call the batch service, render: 200 with the results of a
batch that ran, 202 with the job of one that was queued."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.representation import job_accepted
from pcf.auth import tenant_of
from resources.batch.services import BatchRan, batch_submit


class BatchView(APIView):
    @extend_schema(request=dict, responses={200: dict, 202: dict})
    def post(self, request: Request) -> Response:
        outcome = batch_submit(tenant=tenant_of(request), data=request.data)
        if isinstance(outcome, BatchRan):
            return Response(outcome.body)
        return Response(job_accepted(outcome.job), status=202)
