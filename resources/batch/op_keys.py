"""Per-operation `idempotency_key`: an operation already applied under its key (in an
earlier batch, within 24 h) answers its first result instead of running again.

The claim and the stored result are written in the operation's own transaction, so
a failed or rolled-back operation leaves no record and a retry runs it for real; a
concurrent batch with the same key waits on the row until the first commits."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from pcf.exceptions import IdempotencyKeyReused
from pcf.idempotency import canonical_json, claim_insert
from pcf.models import ApiClient, IdempotencyRecord
from resources.batch.operations import OpResult

NAMESPACE = "batch-op:"  # keeps op keys apart from request-level Idempotency-Keys


def op_fingerprint(*, method: str, path: str, body: Any) -> str:
    return hashlib.sha256(f"{method}\n{path}\n".encode() + canonical_json(body)).hexdigest()


def op_key_claim(
    *, tenant: ApiClient, key: str, fingerprint: str
) -> tuple[int | None, OpResult | None]:
    """(record id to fill, None) when the key is new; (None, first result) when the same
    operation already ran. Raises IdempotencyKeyReused for another operation."""
    name = NAMESPACE + key
    ttl = timedelta(seconds=int(settings.PCF_IDEMPOTENCY_TTL_SECONDS))
    while True:
        record_id = claim_insert(tenant=tenant, key=name, fingerprint=fingerprint)
        if record_id is not None:
            return record_id, None
        record = IdempotencyRecord.objects.filter(tenant=tenant, key=name).first()
        if record is None:
            continue
        if record.created_at < timezone.now() - ttl:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"idempotency_key {key!r} was used with a different operation"
            )
        stored = json.loads(bytes(record.body) or b"{}")
        return None, OpResult(int(record.status_code or 200), stored.get("body"))


def op_key_store(*, record_id: int, result: OpResult) -> None:
    IdempotencyRecord.objects.filter(pk=record_id).update(
        status_code=result.status,
        content_type="application/json",
        body=json.dumps({"body": result.body}).encode(),
    )
