"""The one settings module. Every value comes from the environment with a safe local
default; `DATABASE_URL` / `REDIS_URL` unset means the embedded servers (pcf.embedded)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from pcf import embedded
from pcf.env import env_bool, env_int, env_list, env_str

# Django's generic classes (ModelAdmin[Job], Paginator[...], QuerySet[...]) become
# subscriptable at runtime, so strict typing needs no TYPE_CHECKING forks.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        # Never a public fallback: sessions, CSRF and signed values would be forgeable.
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. `make run` and `make test` use a "
            "local key kept in .pcf-data/secret_key; DEBUG=true makes one there too."
        )
    SECRET_KEY = embedded.local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "axes",
    "strawberry_django",
    "pcf",
    "resources",
    "jobs",
    "imports",
]

MIDDLEWARE = [
    # First: every log line of the request carries its id, and every answer is counted.
    "pcf.request_id.RequestIdMiddleware",
    "pcf.metrics_http.HttpMetricsMiddleware",
    # Django's gzip minus streaming responses (SSE), then request gzip with a size cap.
    "pcf.compression.ResponseGZipMiddleware",
    "pcf.compression.RequestDecompressionMiddleware",
    # JSON nested deeper than PCF_JSON_MAX_DEPTH is a 400 before anything parses it.
    "pcf.jsondepth.JsonDepthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves admin and API-docs assets from the installed apps, no web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # It authenticates the bearer token itself and wraps only the view.
    "pcf.idempotency.IdempotencyMiddleware",
    # Last, as django-axes asks: answers a locked-out admin login.
    "axes.middleware.AxesMiddleware",
]

# Admin logins: django-axes counts failures per client address in the Redis cache
# (shared by every web process) and refuses further attempts for a while (429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("PCF_ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PCF_ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "pcf.urls"
WSGI_APPLICATION = "pcf.wsgi.application"
ASGI_APPLICATION = "pcf.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- PostgreSQL (the only supported database) ---------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env_str("PCF_EMBEDDED_DB_NAME", "pcf"),
            "USER": "postgres",
            "HOST": embedded.postgres_socket_dir(),
        }
    }
    embedded.ensure_database(DATABASES["default"]["NAME"])
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("PCF runs on PostgreSQL only: DATABASE_URL must be postgres://")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env_bool("PCF_DB_POOL", False):
    # Web (ASGI) processes: every request runs its sync code on a thread of its own, so
    # persistent per-thread connections would grow without bound under load. A pool
    # caps them per process; requests wait for a free connection instead of failing.
    # pcf/asgi.py turns this on. Celery's prefork children cannot inherit a pool's
    # threads, so workers keep one persistent connection per process instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("PCF_DB_POOL_MAX", 20),
        "timeout": env_int("PCF_DB_POOL_TIMEOUT", 30),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("PCF_CONN_MAX_AGE", 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and live-progress store -----------------------------------
REDIS_URL = env_str("REDIS_URL") or f"unix://{embedded.ensure_redis()}"


def _broker_url(redis_url: str) -> str:
    # kombu spells a unix-socket Redis as redis+socket://
    return (
        "redis+socket://" + redis_url.removeprefix("unix://")
        if redis_url.startswith("unix://")
        else redis_url
    )


CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or _broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
# Keep a worker's DB connection for this many tasks (Celery closes it around every task
# otherwise: a new PostgreSQL backend per chunk). Broken ones: jobs.tasks prerun hook.
CELERY_DB_REUSE_MAX = env_int("PCF_WORKER_DB_REUSE_MAX", 1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Above PCF_INFRA_WAIT_SECONDS plus a chunk's own time: a worker riding out a database
# outage is not killed for it.
CELERY_TASK_TIME_LIMIT = env_int("PCF_TASK_TIME_LIMIT", 900)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("PCF_TASK_SOFT_TIME_LIMIT", 840)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("PCF_VISIBILITY_TIMEOUT", 3600)}
# Celery's own scheduler: its schedule is static (settings) and kept in a local file, so
# beat needs no database and rides out a PostgreSQL outage.
CELERY_BEAT_SCHEDULER = "celery.beat:PersistentScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "PCF_BEAT_SCHEDULE_FILE", str(BASE_DIR / ".pcf-data" / "celerybeat-schedule")
)

# --- HTTPS (production sits behind TLS; local runs are plain HTTP on 127.0.0.1) ---------
# PCF_HTTPS=true: the session and CSRF cookies are Secure and HSTS is sent.
PCF_HTTPS = env_bool("PCF_HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("PCF_SECURE_COOKIES", PCF_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("PCF_HSTS_SECONDS", 31_536_000 if PCF_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PCF_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("PCF_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("PCF_SSL_REDIRECT", False)  # usually the proxy's job
# Only behind a proxy that sets X-Forwarded-Proto itself; otherwise any client could
# claim https (and get Secure cookies and redirects treated as such).
if env_bool("PCF_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalisation and static -------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".pcf-data" / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Without collectstatic, whitenoise finds files in the apps (fine for one process);
# deployments run collectstatic in the release step and serve STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["pcf.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["pcf.auth.IsApiClient"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["pcf.parsers.PcfJSONParser"],
    "EXCEPTION_HANDLER": "pcf.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["pcf.throttling.TenantRateThrottle"],
    # Every answer is JSON: DRF's `?format=` renderer override only turned an unknown
    # value into a 404 on any endpoint, and GET /v1/jobs/{id}/errors owns `?format=csv`.
    "URL_FORMAT_OVERRIDE": None,
}
# Requests per tenant (REST endpoints); one batch counts once however many operations.
PCF_RATE_LIMIT = env_str("PCF_RATE_LIMIT", "300/s")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "pcf",
    }
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PCF API",
    "DESCRIPTION": "Batch and bulk operations on resources. See docs/ for the contract.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["pcf.openapi.strip_optional_slash"],
    # drf-spectacular's default hook, then /v1/graphql (a strawberry view it cannot see).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "resources.graphql.openapi.add_graphql_path",
        "jobs.openapi.add_progress_path",  # the SSE stream, an async non-DRF view
        "resources.openapi.document_resources",  # bodies and parameters as validated
        "jobs.openapi.document_jobs",
        "pcf.openapi.document_errors",  # last: every operation's error answers
    ],
}

# PCF_LOG_FORMAT=json: one JSON object per line (python-json-logger) with the request
# id, or a chunk's job id, seq, tenant and attempt (pcf.logcontext); text for people.
PCF_LOG_FORMAT = env_str("PCF_LOG_FORMAT", "text").lower()
if PCF_LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("PCF_LOG_FORMAT must be text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "pcf.logcontext.ContextFilter"}},
    "formatters": {"json": {"()": "pcf.logcontext.json_formatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            **({"formatter": "json"} if PCF_LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # One INFO line per outgoing request (webhooks, benchmarks) is noise: every webhook
    # attempt is recorded as a WebhookDelivery row instead.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- Metrics (pcf/metrics.py; /metrics) ------------------------------------------------
# Scrapes must carry this bearer token; unset, only loopback clients may scrape.
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself) makes every web and worker
# process sharing it report together; unset, each process reports only itself.
PCF_METRICS_TOKEN = env_str("PCF_METRICS_TOKEN")

# --- PCF limits (API.md) -------------------------------------------------------------
PCF_PAGE_SIZE_DEFAULT = 100
PCF_PAGE_SIZE_MAX = 500
PCF_METADATA_MAX_BYTES = 64 * 1024
PCF_METADATA_MAX_DEPTH = 10
PCF_BATCH_MAX_OPERATIONS = env_int("PCF_BATCH_MAX_OPERATIONS", 1000)
PCF_BATCH_MAX_DELETE_OPERATIONS = env_int("PCF_BATCH_MAX_DELETE_OPERATIONS", 5000)
PCF_BATCH_MAX_GET_OPERATIONS = env_int("PCF_BATCH_MAX_GET_OPERATIONS", 500)
PCF_BATCH_MAX_PARALLEL = env_int("PCF_BATCH_MAX_PARALLEL", 16)
# Worker threads (each with a DB connection) of all `parallel` batches of one process:
# half the web process's pool, so other requests always find a connection.
PCF_BATCH_THREADS_MAX = env_int(
    "PCF_BATCH_THREADS_MAX", max(2, env_int("PCF_DB_POOL_MAX", 20) // 2)
)
# A batch's `timeout_ms` is 1 to this (5 minutes); more is a 400 naming the option.
PCF_BATCH_MAX_TIMEOUT_MS = env_int("PCF_BATCH_MAX_TIMEOUT_MS", 300_000)
PCF_BULK_MAX_ITEMS = env_int("PCF_BULK_MAX_ITEMS", 10_000)
PCF_BULK_SYNC_LIMIT = env_int("PCF_BULK_SYNC_LIMIT", 10_000)
PCF_BULK_CHUNK_ROWS = env_int("PCF_BULK_CHUNK_ROWS", 1000)  # rows per bulk job chunk
PCF_IMPORT_CHUNK_SIZE_DEFAULT = 1000
PCF_IMPORT_CHUNK_SIZE_MAX = 10_000
# Chunks a job may have: an import that needs more is a 400 on options.chunk_size.
PCF_JOB_MAX_CHUNKS = env_int("PCF_JOB_MAX_CHUNKS", 100_000)
PCF_IMPORT_MAX_BYTES = env_int("PCF_IMPORT_MAX_BYTES", 2 * 1024**3)
# One CSV record (a row with its quoted newlines), in UTF-8 bytes: past it, a 400 at upload.
PCF_CSV_MAX_RECORD_BYTES = env_int("PCF_CSV_MAX_RECORD_BYTES", 1024**2)
# An import that wrote at least this many rows runs ANALYZE on resources when it ends.
PCF_ANALYZE_AFTER_ROWS = env_int("PCF_ANALYZE_AFTER_ROWS", 50_000)
# A full batch (1,000 creates with 64 KiB metadata each) is ~64 MB of JSON.
PCF_MAX_JSON_BODY_BYTES = env_int("PCF_MAX_JSON_BODY_BYTES", 100 * 1024**2)
PCF_MAX_DECOMPRESSED_BYTES = env_int("PCF_MAX_DECOMPRESSED_BYTES", 100 * 1024**2)
# Raw (possibly compressed) request bodies outside imports, checked before Django spools
# them (pcf.bodyguard); the slack covers gzip framing around a body at the JSON cap.
PCF_MAX_BODY_BYTES = env_int("PCF_MAX_BODY_BYTES", PCF_MAX_JSON_BODY_BYTES + 1024**2)
PCF_IDEMPOTENCY_TTL_SECONDS = 24 * 3600
PCF_JSON_MAX_DEPTH = env_int("PCF_JSON_MAX_DEPTH", 64)  # any JSON the API reads
# Any one answer, uncompressed: batch results and GraphQL fields past it are 413
# RESPONSE_TOO_LARGE, refused before they are built (pcf/budget.py).
PCF_RESPONSE_MAX_BYTES = env_int("PCF_RESPONSE_MAX_BYTES", 32 * 1024**2)
# Rows all the GET operations of one batch may answer together.
PCF_BATCH_MAX_GET_ROWS = env_int("PCF_BATCH_MAX_GET_ROWS", 10_000)
PCF_GRAPHQL_MAX_ALIASES = 500
PCF_GRAPHQL_MAX_DEPTH = 10
# Fragment spreads in one document once every spread is followed (each counted once per
# fragment, memoised): 500 aliases each spreading a fragment that spreads one more fit.
PCF_GRAPHQL_MAX_SPREADS = env_int("PCF_GRAPHQL_MAX_SPREADS", 1000)
PCF_GRAPHQL_MAX_BYTES = env_int("PCF_GRAPHQL_MAX_BYTES", 1024**2)
PCF_WEBHOOK_ALLOW_PRIVATE = env_bool("PCF_WEBHOOK_ALLOW_PRIVATE", False)
# One webhook attempt, connect to last byte read, and how much of the answer is read.
PCF_WEBHOOK_TIMEOUT_SECONDS = env_int("PCF_WEBHOOK_TIMEOUT_SECONDS", 10)
PCF_WEBHOOK_MAX_ANSWER_BYTES = env_int("PCF_WEBHOOK_MAX_ANSWER_BYTES", 64 * 1024)
PCF_WEBHOOK_MAX_ATTEMPTS = env_int("PCF_WEBHOOK_MAX_ATTEMPTS", 8)
# A job still being filled (an upload in progress) that has not changed for this long
# lost its web process: the sweeper fails it, nothing written.
PCF_UPLOAD_STALE_SECONDS = env_int("PCF_UPLOAD_STALE_SECONDS", 3600)
PCF_SWEEP_INTERVAL_SECONDS = env_int("PCF_SWEEP_INTERVAL_SECONDS", 5)

# Django's own request-size guard would reject big multipart imports before PCF streams them.
DATA_UPLOAD_MAX_MEMORY_SIZE = PCF_MAX_JSON_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2

# --- Job engine (jobs/) ------------------------------------------------------------------
# Chunks, webhooks and housekeeping run on separate queues, so a slow webhook target
# never holds up imports (Procfile: one worker per queue group).
CELERY_TASK_ROUTES = {
    "jobs.tasks.run_dispatch": {"queue": "chunks"},
    "jobs.tasks.deliver_webhook": {"queue": "webhooks"},
    "jobs.tasks.sweep": {"queue": "celery"},
    "jobs.tasks.purge": {"queue": "celery"},
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Declared, so Flower's broker tab lists every queue with its length even while no worker
# reports its active queues.
CELERY_TASK_QUEUES = [Queue("chunks"), Queue("webhooks"), Queue("celery")]
PCF_PURGE_HOUR_UTC = env_int("PCF_PURGE_HOUR_UTC", 3)
CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {"task": "jobs.tasks.sweep", "schedule": float(PCF_SWEEP_INTERVAL_SECONDS)},
    "jobs-purge": {
        "task": "jobs.tasks.purge",
        "schedule": crontab(minute=17, hour=PCF_PURGE_HOUR_UTC),
    },
}
# A task interrupted by a lost worker goes back to the queue (chunk tasks are idempotent).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Task results (admin) live as long as the jobs they belong to.
PCF_JOB_RETENTION_DAYS = env_int("PCF_JOB_RETENTION_DAYS", 30)
CELERY_RESULT_EXPIRES = PCF_JOB_RETENTION_DAYS * 24 * 3600
# A handler exception (code or data error) is retried this often before its chunk is
# recorded failed; infrastructure failures are waited out, never counted.
PCF_CHUNK_MAX_RETRIES = env_int("PCF_CHUNK_MAX_RETRIES", 2)
# Starts of one chunk (each stamped before it runs) before it is given up as poison:
# it keeps killing its worker.
PCF_CHUNK_MAX_ATTEMPTS = env_int("PCF_CHUNK_MAX_ATTEMPTS", 10)
# How long a worker waits for PostgreSQL to come back before leaving its message to
# the sweeper (kept below the task time limits).
PCF_INFRA_WAIT_SECONDS = env_int("PCF_INFRA_WAIT_SECONDS", 420)
# The window (jobs/engine/dispatch.py): messages in the broker per live worker process,
# or a fixed size; at least PCF_DISPATCH_WINDOW_MIN.
PCF_DISPATCH_PER_PROCESS = env_int("PCF_DISPATCH_PER_PROCESS", 2)
PCF_DISPATCH_WINDOW = env_int("PCF_DISPATCH_WINDOW", 0)  # 0: from the workers' heartbeats
PCF_DISPATCH_WINDOW_MIN = env_int("PCF_DISPATCH_WINDOW_MIN", 2)
# One message applies up to this many consecutive ready chunks of a job, this many
# units in all: each chunk keeps its own transaction, the message's cost (start,
# refill, broker) is shared. 1,000-row chunks go 10 a message.
PCF_DISPATCH_GROUP_CHUNKS = env_int("PCF_DISPATCH_GROUP_CHUNKS", 32)
PCF_DISPATCH_GROUP_ROWS = env_int("PCF_DISPATCH_GROUP_ROWS", 10_000)
# One tenant's messages in flight at most (0: no cap beyond fairness).
PCF_TENANT_MAX_RUNNING_CHUNKS = env_int("PCF_TENANT_MAX_RUNNING_CHUNKS", 0)
# A message nobody started this long after it was sent, and that the broker's queue
# does not hold, is sent again; one started but no longer held by a worker this long, too.
PCF_DISPATCH_START_TIMEOUT_SECONDS = env_int("PCF_DISPATCH_START_TIMEOUT_SECONDS", 15)
PCF_DISPATCH_STALL_SECONDS = env_int("PCF_DISPATCH_STALL_SECONDS", 10)
PCF_WORKER_HEARTBEAT_SECONDS = env_int("PCF_WORKER_HEARTBEAT_SECONDS", 10)
PCF_WEBHOOK_BACKOFF_BASE_SECONDS = env_int("PCF_WEBHOOK_BACKOFF_BASE_SECONDS", 10)
# Below the broker's visibility timeout, as Celery advises for countdowns on Redis.
PCF_WEBHOOK_BACKOFF_MAX_SECONDS = env_int("PCF_WEBHOOK_BACKOFF_MAX_SECONDS", 900)
PCF_SSE_HEARTBEAT_SECONDS = env_int("PCF_SSE_HEARTBEAT_SECONDS", 15)
# Open progress streams per tenant, counted across web processes (jobs/sse_slots.py).
PCF_SSE_MAX_STREAMS_PER_TENANT = env_int("PCF_SSE_MAX_STREAMS_PER_TENANT", 20)
# A stream ends after this long; the client resumes with Last-Event-ID.
PCF_SSE_MAX_STREAM_SECONDS = env_int("PCF_SSE_MAX_STREAM_SECONDS", 600)
# Modules imported by jobs.apps at start-up (tests register their chunk handlers this way).
PCF_EXTRA_HANDLER_MODULES = env_list("PCF_EXTRA_HANDLER_MODULES", [])
