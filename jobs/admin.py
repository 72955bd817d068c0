"""The operator's console in the Django admin: jobs filtered by tenant, type, status and
date, with a live progress bar and rows/s; a job page with the first rows of its chunks,
errors and webhook attempts (each also its own paginated list) and its errors as CSV;
actions to cancel, re-run failed chunks and re-send the webhook; and a page of the
tenants whose jobs are running now (docs/jobs.md, "Admin console").

Every list is paginated and counts at most COUNT_CAP rows: a job may have 100k chunks
and a million errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from jobs import console, services
from jobs.csv_export import error_csv, error_csv_sync
from jobs.handlers import job_types
from jobs.models import Chunk, Job, JobError, LiveTenant, WebhookDelivery
from jobs.progress import percentage
from jobs.representation import job_summary, rows_per_second
from pcf.exceptions import Conflict, PcfError

# Rows of each kind shown on a job page; the rest are on the kind's own list.
JOB_PAGE_ROWS = 20
# How often the console's progress bars ask for news (jobs/static/jobs/progress.js).
PROGRESS_POLL_MS = 1000


# Rows a list counts at most. Counting a million errors of one job took 107 ms and
# paging to its end 650 ms; past this many, the list says "at least" and stops paging
# (the errors CSV has them all).
COUNT_CAP = 100_000


_Row = TypeVar("_Row", bound=Model)


class CappedCountPaginator(Paginator[Any]):
    """A paginator that counts at most COUNT_CAP rows (admin/jobs/pagination.html says
    "at least" at the cap)."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        rows: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        return rows.order_by()[: self.cap].count()


class ReadOnlyAdmin(admin.ModelAdmin[_Row]):
    """A job's chunks, errors or deliveries, paginated (a job may have a million)."""

    list_per_page = 100
    paginator = CappedCountPaginator
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
class ChunkAdmin(ReadOnlyAdmin[Chunk]):
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


def _error_codes() -> list[str]:
    """The codes an error row can have: the contract's (pcf.exceptions) and INTERNAL."""
    codes, pending = {"INTERNAL"}, [PcfError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


class ErrorCodeFilter(admin.SimpleListFilter):
    """Error codes from the code, not SELECT DISTINCT over a million-row table (what
    the default filter of a CharField runs on every page)."""

    title = "code"
    parameter_name = "code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, code) for code in _error_codes()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(code=self.value()) if self.value() else queryset


@admin.register(JobError)
class JobErrorAdmin(ReadOnlyAdmin[JobError]):
    list_display = ("job", "row", "index", "field", "code", "message", "values")
    list_filter = (ErrorCodeFilter,)
    ordering = ("job", "pk")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin[WebhookDelivery]):
    list_display = (
        "job", "created_at", "event", "attempt", "url", "status_code", "succeeded", "error",
        "duration_ms", "next_retry_at",
    )  # fmt: skip
    list_filter = ("succeeded",)
    ordering = ("job", "pk")


def _job_list_url(model: type[Any], job: Job) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return f"{url}?{urlencode({'job__id__exact': job.pk})}"


class JobTypeFilter(admin.SimpleListFilter):
    """Job types from the registered handlers, not SELECT DISTINCT over every job."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in job_types()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(type=self.value()) if self.value() else queryset


def _poll_context() -> dict[str, Any]:
    """What admin/jobs/progress_script.html needs to poll the page's progress bars."""
    return {"progress_url": reverse("admin:jobs_job_progress"), "poll_ms": PROGRESS_POLL_MS}


def progress_widget(job: Job) -> SafeString:
    """A progress bar that jobs/static/jobs/progress.js keeps moving while the job runs."""
    pct = percentage(job.processed, job.total, job.is_finished)
    return format_html(
        '<span class="pcf-progress" data-job="{}" data-finished="{}">'
        '<progress value="{}" max="100"></progress> '
        '<span class="pcf-progress-text">{}% ({} / {})</span></span>',
        job.pk, int(job.is_finished), pct, pct, job.processed, job.total,
    )  # fmt: skip


def _grouped_messages(
    request: HttpRequest,
    admin_: admin.ModelAdmin[Job],
    results: dict[str, list[str]],
    word: dict[str, str],
) -> None:
    """One message per outcome, naming its jobs: "2 job(s) cancelled: a, b"."""
    levels = {"done": messages.SUCCESS, "skipped": messages.WARNING, "none": messages.INFO}
    for outcome, lines in results.items():
        if lines:
            text = f"{len(lines)} job(s) {word[outcome]}: " + "; ".join(lines)
            admin_.message_user(request, text, levels[outcome])


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = (
        "id", "type", "status", "tenant", "progress_bar", "rows_per_s", "created_at",
        "finished_at",
    )  # fmt: skip
    list_filter = ("status", JobTypeFilter, "tenant", "created_at")
    search_fields = ("=id",)  # an exact id, found by the primary key
    # A date filter, not date_hierarchy: that runs SELECT DISTINCT over every job's day
    # on each page (76 ms at 200,000 jobs, growing with the table).
    ordering = ("-created_at",)  # the job_recent index
    list_select_related = ("tenant",)
    list_per_page = 50
    paginator = CappedCountPaginator
    # No COUNT(*) of every job for the "show all" link.
    show_full_result_count = False
    # No inlines: a job with 1M errors rendered them all on one page. The job page shows
    # the first rows of each kind and links to their own paginated lists.
    actions = ("cancel_jobs", "rerun_failed_chunks", "resend_webhooks")
    readonly_fields = (
        "id", "tenant", "type", "handler", "status", "message", "progress_bar", "rows_per_s",
        "total", "processed", "successful", "failed", "skipped", "chunks_total",
        "chunks_finished", "sealed", "options", "webhook", "summary", "task_results",
        "created_at", "updated_at", "started_at", "finished_at",
        "request_id",  # the X-Request-ID that submitted it: its log lines (operations.md)
    )  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # jobs leave by the retention purge, with their rows, in batches

    # --- columns and fields ---

    @admin.display(description="progress")
    def progress_bar(self, job: Job) -> str:
        return progress_widget(job)

    @admin.display(description="rows/s")
    def rows_per_s(self, job: Job) -> str:
        rate = rows_per_second(job)
        shown = "-" if rate is None else rate
        return format_html('<span data-job-rate="{}">{}</span>', job.pk, shown)

    @admin.display(description="summary")
    def summary(self, job: Job) -> dict[str, Any] | None:
        return job_summary(job)

    @admin.display(description="Celery task results")
    def task_results(self, job: Job) -> str:
        url = reverse("admin:django_celery_results_taskresult_changelist")
        return format_html('<a href="{}?{}">{}</a>', url, urlencode({"q": job.id}), "all tasks")

    # --- pages ---

    def get_urls(self) -> list[URLPattern]:
        def view(func: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
            return self.admin_site.admin_view(func)

        own = [
            path("progress/", view(self.progress_view), name="jobs_job_progress"),
            path("<str:job_id>/errors.csv", view(self.errors_csv_view), name="jobs_job_errors_csv"),
        ]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        job = self.get_object(request, unquote(object_id))  # the admin quotes ids in URLs
        if job is None:
            return super().change_view(request, object_id, form_url, extra_context)
        # The first rows of each, by the (job, seq) and (job, id) indexes.
        context = {
            **(extra_context or {}),
            "chunks": Chunk.objects.filter(job=job).defer("payload", "payload_text", "result")
            .order_by("seq")[:JOB_PAGE_ROWS],
            "errors": JobError.objects.filter(job=job).order_by("pk")[:JOB_PAGE_ROWS],
            "deliveries": WebhookDelivery.objects.filter(job=job).order_by("-pk")[:JOB_PAGE_ROWS],
            "chunks_url": _job_list_url(Chunk, job),
            "errors_url": _job_list_url(JobError, job),
            "deliveries_url": _job_list_url(WebhookDelivery, job),
            "errors_csv_url": reverse("admin:jobs_job_errors_csv", args=[quote(job.pk)]),
            "page_rows": JOB_PAGE_ROWS,
            **_poll_context(),
            # A read-only page: no save buttons.
            "show_save": False, "show_save_and_continue": False,
            "show_save_and_add_another": False, "show_delete": False,
        }  # fmt: skip
        return super().change_view(request, object_id, form_url, context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), **_poll_context()})

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        """Progress of the jobs named by `?id=` (the bars on the page), for its poller."""
        if not self.has_view_permission(request):
            raise Http404
        return JsonResponse({"jobs": console.jobs_progress(request.GET.getlist("id"))})

    def errors_csv_view(self, request: HttpRequest, job_id: str) -> StreamingHttpResponse:
        """The job's errors as CSV, streamed as GET /v1/jobs/{id}/errors?format=csv does,
        for a staff login rather than the tenant's token."""
        job = get_object_or_404(Job, pk=unquote(job_id))
        if not self.has_view_permission(request, job):
            raise Http404
        # Each server kind streams its own kind of iterator without buffering it.
        text = error_csv(job.id) if isinstance(request, ASGIRequest) else error_csv_sync(job.id)
        response = StreamingHttpResponse(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{job.id}-errors.csv"'
        return response

    # --- actions: each reports per job what it did, or why it left the job alone ---

    def _each(
        self, queryset: QuerySet[Job], act: Callable[[Job], str | None]
    ) -> dict[str, list[str]]:
        results: dict[str, list[str]] = {"done": [], "skipped": [], "none": []}
        for job in queryset.order_by("created_at"):
            try:
                said = act(job)
            except Conflict as exc:
                results["skipped"].append(exc.message)
                continue
            results["done" if said else "none"].append(said or job.pk)
        return results

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        def cancel(job: Job) -> str:
            services.job_cancel(job=job)
            return job.pk

        results = self._each(queryset, cancel)
        _grouped_messages(request, self, results, {"done": "cancelled", "skipped": "left alone"})

    @admin.action(description="Re-run failed chunks of selected jobs", permissions=["change"])
    def rerun_failed_chunks(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        def rerun(job: Job) -> str | None:
            count = services.job_rerun_failed_chunks(job=job)
            return f"{job.pk} ({count} chunk(s))" if count else None

        results = self._each(queryset, rerun)
        _grouped_messages(request, self, results, {
            "done": "re-running failed chunks", "skipped": "left alone",
            "none": "had no failed chunk",
        })  # fmt: skip

    @admin.action(description="Re-send the last webhook of selected jobs", permissions=["change"])
    def resend_webhooks(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        def resend(job: Job) -> str:
            message = services.job_webhook_resend(job=job)
            return f"{job.pk} ({message.event} to {message.url})"

        results = self._each(queryset, resend)
        _grouped_messages(request, self, results, {
            "done": "webhook queued again", "skipped": "left alone",
        })  # fmt: skip


@admin.register(LiveTenant)
class LiveTenantAdmin(admin.ModelAdmin[LiveTenant]):
    """Not a list of rows: the page of tenants whose jobs are running now."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        page = self.admin_site.admin_view(self.changelist_view)
        return [path("", page, name="jobs_livetenant_changelist")]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404
        tenants, truncated = console.live_tenants()
        jobs_url = reverse("admin:jobs_job_changelist")
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": "Live tenants and their running jobs",
            "opts": self.model._meta,
            "tenants": [
                {
                    "row": row,
                    "jobs": [
                        {"job": job, "progress": progress_widget(job), "rate": rows_per_second(job)}
                        for job in row.jobs
                    ],
                }
                for row in tenants
            ],
            "truncated": truncated,
            "limit": console.LIVE_JOBS_LIMIT,
            "jobs_url": jobs_url,
            **_poll_context(),
        }
        return TemplateResponse(request, "admin/jobs/live_tenants.html", context)
