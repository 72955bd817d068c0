"""`POST /v1/batch`: parse, call the batch service, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pcf.auth import tenant_of
from resources.batch.services import batch_submit


class BatchView(APIView):
    @extend_schema(request=dict, responses={200: dict, 202: dict})
    def post(self, request: Request) -> Response:
        status, body = batch_submit(tenant=tenant_of(request), data=request.data)
        return Response(body, status=status)
