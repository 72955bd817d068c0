"""API clients: each is a tenant. Bearer tokens are stored as SHA-256 digests only."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

TOKEN_PREFIX = "pcf_"  # noqa: S105 - a prefix, not a secret


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast digest is enough; no stretching needed.
    return hashlib.sha256(token.encode()).hexdigest()


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class ApiClient(models.Model):
    name = models.CharField(max_length=255)
    token_hash = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=12, help_text="First characters, to recognise it")
    # Must be readable to sign payloads (GET /webhooks/secret shows it), so it is not hashed.
    webhook_secret = models.CharField(max_length=80, default=new_webhook_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API client"

    def __str__(self) -> str:
        return f"{self.name} ({self.token_hint}…)"

    # DRF treats request.user as the authenticated principal.
    @property
    def is_authenticated(self) -> bool:
        return True

    @classmethod
    def issue(cls, name: str) -> tuple[ApiClient, str]:
        """Create a client; return it and its token, which is never stored in clear."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        client = cls.objects.create(name=name, token_hash=hash_token(token), token_hint=token[:10])
        return client, token


# --- Idempotency (owned by the batch/idempotency work; see pcf/idempotency.py) ---------


class IdempotencyRecord(models.Model):
    """The first answer to a request made with an `Idempotency-Key`, per tenant.

    `fingerprint` is a digest of method, path and body content; a reuse of the key
    with another fingerprint is refused. `status_code` is null while the first
    request still runs, which is how a concurrent duplicate knows to wait."""

    tenant = models.ForeignKey(ApiClient, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_tenant_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_at")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'running'})"

    @property
    def is_finished(self) -> bool:
        return self.status_code is not None
