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
