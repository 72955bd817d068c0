"""The Resource: what every API path reads and writes, always within one tenant."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ResourceType(models.TextChoices):
    DOCUMENT = "document"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    OTHER = "other"


class ResourceStatus(models.TextChoices):
    DRAFT = "draft"
    ACTIVE = "active"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Resource(models.Model):
    # Internal, monotonic key: cursor pagination walks it; clients never see it.
    seq = models.BigAutoField(primary_key=True)
    # No database-level foreign key: PostgreSQL checks one with a query per inserted
    # row, which made a 1M-row COPY 57% slower (docs/benchmarks.md). tenant_id only
    # ever comes from the authenticated ApiClient, and deleting a client still deletes
    # its resources (Django's CASCADE collector).
    tenant = models.ForeignKey(
        "pcf.ApiClient", on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    # The public id (`res_…` or client-given), unique per tenant, kept after soft delete.
    public_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=ResourceType.choices)
    status = models.CharField(
        max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.ACTIVE
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "public_id"], name="resource_tenant_public_id"
            )
        ]
        indexes = [
            # Upsert by name and name lookups only ever concern live rows.
            models.Index(
                fields=["tenant", "name"],
                name="resource_live_tenant_name",
                condition=Q(deleted_at__isnull=True),
            ),
            # List pages (keyset on seq within a tenant): a page costs the same at any
            # depth and any tenant size (docs/benchmarks.md, "Reading back").
            models.Index(
                fields=["tenant", "seq"],
                name="resource_live_tenant_seq",
                condition=Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.name})"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
