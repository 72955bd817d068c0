"""Operators' view of the engine: jobs with progress and rate, their chunks, errors,
webhook attempts and Celery task results, and the cancel / re-run actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from jobs import services
from jobs.models import Chunk, Job, JobError, WebhookDelivery
from jobs.progress import percentage
from jobs.representation import job_summary, rows_per_second
from pcf.exceptions import Conflict


class ReadOnlyAdmin(admin.ModelAdmin):
    """A job's chunks, errors or deliveries, paginated (a job may have a million)."""

    list_per_page = 100
    # No COUNT(*) over the whole table for the "show all" link: only the filtered count.
    show_full_result_count = False
    list_select_related = ("job",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Chunk)
class ChunkAdmin(ReadOnlyAdmin):
    list_display = (
        "job", "seq", "status", "row_offset", "row_count", "attempts", "successful", "failed",
        "skipped", "duration_ms", "error", "task_result",
    )  # fmt: skip
    list_filter = ("status",)
    ordering = ("job", "seq")
    exclude = ("payload", "payload_text")  # a chunk's input can be megabytes

    @admin.display(description="task")
    def task_result(self, chunk: Chunk) -> str:
        url = reverse("admin:django_celery_results_taskresult_changelist")
        return format_html('<a href="{}?{}">{}</a>', url, urlencode({"q": chunk.task_id}), "result")


@admin.register(JobError)
class JobErrorAdmin(ReadOnlyAdmin):
    list_display = ("job", "row", "index", "field", "code", "message", "values")
    list_filter = ("code",)
    ordering = ("job", "pk")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "job", "created_at", "event", "attempt", "url", "status_code", "succeeded", "error",
        "duration_ms", "next_retry_at",
    )  # fmt: skip
    list_filter = ("succeeded",)
    ordering = ("job", "pk")


def _job_list_link(model: type[Any], job: Job, label: str) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode({"job__id__exact": job.pk}), label)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "type", "status", "tenant", "progress_bar", "rows_per_s", "created_at",
        "finished_at",
    )  # fmt: skip
    list_filter = ("status", "type", "tenant")
    search_fields = ("id",)
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    # No inlines: a job with 1M errors rendered them all on one page. Its chunks, errors
    # and webhook attempts are links to their own paginated lists instead.
    actions = ("cancel_jobs", "rerun_failed_chunks")
    readonly_fields = (
        "id", "tenant", "type", "handler", "status", "message", "progress_bar", "rows_per_s",
        "total", "processed", "successful", "failed", "skipped", "chunks_total",
        "chunks_finished", "sealed", "options", "webhook", "summary", "task_results",
        "chunks_link", "errors_link", "deliveries_link", "created_at", "updated_at",
        "started_at", "finished_at",
    )  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="progress")
    def progress_bar(self, job: Job) -> str:
        pct = percentage(job.processed, job.total, job.is_finished)
        return format_html(
            '<progress value="{}" max="100" title="{} / {}"></progress> {}%',
            pct, job.processed, job.total, pct,
        )  # fmt: skip

    @admin.display(description="rows/s")
    def rows_per_s(self, job: Job) -> float | None:
        return rows_per_second(job)

    @admin.display(description="summary")
    def summary(self, job: Job) -> dict[str, Any] | None:
        return job_summary(job)

    @admin.display(description="Celery task results")
    def task_results(self, job: Job) -> str:
        url = reverse("admin:django_celery_results_taskresult_changelist")
        return format_html('<a href="{}?{}">{}</a>', url, urlencode({"q": job.id}), "all tasks")

    @admin.display(description="chunks")
    def chunks_link(self, job: Job) -> str:
        return _job_list_link(Chunk, job, f"{job.chunks_total} chunks")

    @admin.display(description="errors")
    def errors_link(self, job: Job) -> str:
        return _job_list_link(JobError, job, "row errors")

    @admin.display(description="webhook attempts")
    def deliveries_link(self, job: Job) -> str:
        return _job_list_link(WebhookDelivery, job, "webhook attempts")

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = 0
        for job in queryset:
            try:
                services.job_cancel(job=job)
                cancelled += 1
            except Conflict:
                pass
        self.message_user(request, f"{cancelled} job(s) cancelled", messages.SUCCESS)

    @admin.action(description="Re-run failed chunks")
    def rerun_failed_chunks(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        chunks = 0
        for job in queryset:
            try:
                chunks += services.job_rerun_failed_chunks(job=job)
            except Conflict as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, f"{chunks} failed chunk(s) re-queued", messages.SUCCESS)
