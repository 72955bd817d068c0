from django.urls import URLPattern, URLResolver, re_path

from jobs import sse, views

_JOB = r"^jobs/(?P<job_id>[^/]+)"

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^jobs/?$", views.JobCollectionView.as_view(), name="job-list"),
    re_path(_JOB + r"/?$", views.JobDetailView.as_view(), name="job-detail"),
    re_path(_JOB + r"/cancel/?$", views.JobCancelView.as_view(), name="job-cancel"),
    re_path(_JOB + r"/errors/?$", views.JobErrorsView.as_view(), name="job-errors"),
    re_path(_JOB + r"/results/?$", views.JobResultsView.as_view(), name="job-results"),
    re_path(_JOB + r"/webhooks/?$", views.JobWebhooksView.as_view(), name="job-webhooks"),
    re_path(_JOB + r"/progress/?$", sse.job_progress, name="job-progress"),
    re_path(r"^webhooks/secret/?$", views.WebhookSecretView.as_view(), name="webhook-secret"),
    re_path(
        r"^webhooks/secret/rotate/?$",
        views.WebhookSecretRotateView.as_view(),
        name="webhook-secret-rotate",
    ),
]
