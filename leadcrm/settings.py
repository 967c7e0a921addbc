"""leadcrm settings, driven by environment variables (see .env.example).

With nothing set, `make run` and `make test` start an embedded PostgreSQL under var/ (see
leadcrm/localdb.py) and Celery runs on kombu's filesystem transport, so no other service is
needed. DEBUG is off unless asked for.
"""

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from core.env import env_bool, env_int, env_list, env_str, env_url
from core.secretkey import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LEADCRM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# Strong with DEBUG off (start-up stops on a weak one); with DEBUG on and none given, a random
# key generated once and kept in VAR_DIR/secret_key (core/secretkey.py).
SECRET_KEY = secret_key(env_str("SECRET_KEY"), debug=DEBUG, var_dir=VAR_DIR)

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")
HTTPS = SITE_URL.startswith("https://")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    # Two-factor log-in (accounts/two_factor.py): authenticator apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "audit",
    "leads",
    "events",
    "scoring",
    "nurturing",
    "handoff",
    "web",
    "imports",
    "reports",
    "playbook",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # NUL characters in the address, query or form fields: a 400, not a database error.
    "core.middleware.RejectBadTextMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): passed a second factor (django-otp), then the admins' rule.
    "django_otp.middleware.OTPMiddleware",
    "accounts.two_factor.RequireAdminTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The request's address, for the audit rows its services write (audit/context.py).
    "audit.context.AuditContextMiddleware",
    # Log-in lockout (accounts/lockout.py): last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

# The SDKs' write-key endpoints (browsers' page views at thousands a second) skip the middleware
# of people's sessions: no session, log-in, CSRF token, message or htmx there (core/wsgi.py).
MACHINE_PATH_PREFIXES = ("/v1/", "/beacon/v1/", "/sourceConfig")
MACHINE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RejectBadTextMiddleware",
    # JSON answers only: a fixed "nothing loads, nothing frames" policy, not the pages' CSP.
    "core.middleware.MachineHeadersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "audit.context.AuditContextMiddleware",
]
# The public pages visitors fill in (the hosted forms, the double opt-in link): pages, so the
# pages' CSP and clickjacking header, but no session, log-in or CSRF (core/wsgi.py).
PUBLIC_PATH_PREFIXES = ("/f/",)
PUBLIC_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RejectBadTextMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.context.AuditContextMiddleware",
]

ROOT_URLCONF = "leadcrm.urls"
WSGI_APPLICATION = "leadcrm.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "pgsql"))
if not DATABASE_URL:
    from leadcrm import localdb

    # Outside `make run` / `make test` (which set DATABASE_URL), join the server `make run` runs.
    DATABASE_URL = localdb.running_url(VAR_DIR) or ""
    if not DATABASE_URL:
        raise ImproperlyConfigured(
            "DATABASE_URL is not set and no local PostgreSQL is running in "
            f"{localdb.data_dir(VAR_DIR)}: set DATABASE_URL, start `make run` (which runs one), "
            f"or run the command under `python -m leadcrm.localdb {VAR_DIR} -- COMMAND`"
        )
# Persistent connections: opening a connection per request costs more than an insert.
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
# A unix socket folder given as `?host=` lands in OPTIONS; Django's tools (dbshell) read HOST.
if "host" in _db.get("OPTIONS", {}):
    _db["HOST"] = _db["OPTIONS"].pop("host")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Log-in lockout (django-axes; accounts/lockout.py) ------------------------------------------
AUTHENTICATION_BACKENDS = [
    "accounts.lockout.LockoutBackend",  # refuses a locked-out account or address first
    "django.contrib.auth.backends.ModelBackend",
]
# Failed log-ins (per account, and per address) within the cool-off that lock it, and the
# minutes the lock lasts; a successful log-in clears the account's count.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"
# Failed attempts are kept (the admin's unlock list); successful log-ins are not logged.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Password-reset emails an hour per client address and per address asked for (core.ratelimit,
# Redis; off without REDIS_URL); the next is a 429.
PASSWORD_RESET_RATE_PER_IP_PER_HOUR = env_int("PASSWORD_RESET_RATE_PER_IP_PER_HOUR", 5, minimum=1)
PASSWORD_RESET_RATE_PER_EMAIL_PER_HOUR = env_int(
    "PASSWORD_RESET_RATE_PER_EMAIL_PER_HOUR", 3, minimum=1
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve from the app folders too, so the app works without `collectstatic` (make run, local
# load tests with DEBUG off); the Docker image collects at build time for compressed copies.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- HTTPS: follows from an https:// SITE_URL, so plain-http local serving still works ------------
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (Django's own middleware): every script and style is a file served by
# the app, so neither inline scripts nor inline styles (`style=` attributes included) run. A page
# that cannot live with it gets its own policy with django.views.decorators.csp, never a weaker
# site-wide one (see leadcrm/urls.py for the API docs).
SECURE_CSP: dict[str, list[str] | str] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
CSRF_TRUSTED_ORIGINS = [SITE_URL]

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Personal tokens (expiring, revocable) and drf_create_token's: accounts/authentication.py
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's browsable pages with their own CSP (inline styles only): core/renderers.py
        "core.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        # django-filter's, with text and integer-range guards (core/filters.py)
        "core.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # DRF's JSON parser with a nesting limit and a NUL check (core/parsers.py)
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Per-user and per-address limits (core/throttling.py; rates below): 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.UserRateThrottle",
        "core.throttling.AnonRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "leadcrm API",
    "DESCRIPTION": "Leads, their qualification stages, scoring and nurturing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Every operation's error answers, in the API's one error shape (core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_error_responses",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the stage choices wherever they appear (lead output, transition input).
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "leads.models.Stage",
        "SourceEnum": "leads.models.SourceChannel",
        "TriggerKindEnum": "nurturing.models.TriggerKind",
        # Choice sets that share the field name `kind`: each gets its own name.
        "ActivityKindEnum": "handoff.models.ActivityKind",
        "RuleKindEnum": "scoring.models.RuleKind",
        "SourceKindEnum": "events.models.SourceKind",
        # An import's `mode` and `consent` (a lead's consent state is another choice set).
        "ImportModeEnum": "imports.models.ImportMode",
        "ImportConsentEnum": "imports.models.ImportConsent",
    },
}

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
# The cache: the API's throttle counters and the log-in lockout's. Redis when there is one
# (shared by every process), else this process's memory (development).
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "leadcrm"),
            # Short timeouts: a throttle check runs inside a request (and lets it through when
            # Redis is down, core/throttling.py), so an outage costs little.
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # kombu's Redis transport, with one client object a channel (leadcrm/broker.py).
    CELERY_BROKER_TRANSPORT = "leadcrm.broker:Transport"
    # A task not acknowledged within this time is delivered again. Short, so that a killed
    # worker's acks_late tasks come back within minutes; every task is idempotent for this.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 120, minimum=10)
    }
else:
    # Embedded default: a broker in plain folders, for `make run` on a bare machine.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings; kombu's default is ./control, i.e. wherever the process started.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A worker keeps its database connection from task to task, as a web worker does from request
# to request (CONN_MAX_AGE, with its health check: leadcrm/celery.py). Without this, Celery's
# Django fixup closes every connection before and after each task: each task then opened a new
# PostgreSQL connection (a server process forked and set up), which cost more than most tasks.
# It still closes them all once in this many tasks.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 10_000, minimum=1)
# Periodic jobs are declared in one place: leadcrm/schedule.py.

# --- Email ------------------------------------------------------------------------------------
# Configured from Django's own variable names (EMAIL_BACKEND, EMAIL_HOST, ...), turned into
# Django 6's MAILERS setting (the EMAIL_* settings themselves are deprecated).
_EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_EMAIL_OPTIONS: dict = {}
if _EMAIL_BACKEND.endswith("smtp.EmailBackend"):
    _EMAIL_OPTIONS = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25, minimum=1),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "use_ssl": env_bool("EMAIL_USE_SSL", False),
        "timeout": env_int("EMAIL_TIMEOUT", 30, minimum=1),
    }
    if _EMAIL_OPTIONS["use_tls"] and _EMAIL_OPTIONS["use_ssl"]:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on")
elif _EMAIL_BACKEND.endswith("filebased.EmailBackend"):
    _EMAIL_OPTIONS = {"file_path": env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))}
MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND, "OPTIONS": _EMAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "leadcrm <noreply@localhost>")

# --- Nurturing --------------------------------------------------------------------------------
# At most this many nurture emails are queued per minute (0: no limit), so that a large
# enrollment does not flood the mail server or use up the provider's sending quota at once.
NURTURE_SEND_RATE_PER_MINUTE = env_int("NURTURE_SEND_RATE_PER_MINUTE", 600, minimum=0)
# A worker's claim on one email lasts this long. A claim older than this whose worker died
# before the server accepted the email is sent again, so it must outlast one SMTP conversation.
NURTURE_CLAIM_LEASE_SECONDS = env_int("NURTURE_CLAIM_LEASE_SECONDS", 300, minimum=2)
_SMTP_CONVERSATION = 4 * _EMAIL_OPTIONS.get("timeout", 0)  # connect, MAIL, RCPT, DATA
if _SMTP_CONVERSATION >= NURTURE_CLAIM_LEASE_SECONDS:
    raise ImproperlyConfigured("NURTURE_CLAIM_LEASE_SECONDS must be more than 4 x EMAIL_TIMEOUT")
# First wait after a transient SMTP error (server down, 4xx); it doubles per retry, capped
# below the broker's visibility timeout so that a waiting retry is never delivered twice.
NURTURE_RETRY_BASE_SECONDS = env_int("NURTURE_RETRY_BASE_SECONDS", 10, minimum=1)
# The Celery queue nurture work is sent to. The default is Celery's own queue; a separate one
# keeps a mail backlog from delaying other work (then run a worker with `-Q celery,<name>`).
NURTURE_QUEUE = env_str("NURTURE_QUEUE", "celery")
# Leads that entered a stage within this many milliseconds are enrolled by one task, which runs
# when the window closes (core/coalesce.py): the welcome email waits at most this much longer.
NURTURE_KICK_WINDOW_MS = env_int("NURTURE_KICK_WINDOW_MS", 500, minimum=1)
# Prefix of nurturing's Redis keys (the kick's flag and the leads waiting), followed by
# NURTURE_QUEUE: the workers of a queue take the leads kicked for it.
NURTURE_KEY_PREFIX = env_str("NURTURE_KEY_PREFIX", "leadcrm:nurture:")

# --- Ingestion limits -------------------------------------------------------------------------
# Requests a minute a source may send to the /v1/* endpoints, unless the source sets its own
# (Source.rate_limit_per_minute); 0: no limit. Counted in Redis (core/ratelimit.py); without
# REDIS_URL every limit is off. Server keys: high enough that bench/ingest.py (about 8,000
# requests a minute of 100 events) is never throttled. Browser keys are public, so lower.
INGEST_SERVER_RATE_PER_MINUTE = env_int("INGEST_SERVER_RATE_PER_MINUTE", 60_000, minimum=0)
INGEST_BROWSER_RATE_PER_MINUTE = env_int("INGEST_BROWSER_RATE_PER_MINUTE", 3_000, minimum=0)
# Requests a minute one client address (an IPv6 /64) may send with any browser key; 0: no limit.
INGEST_BROWSER_IP_RATE_PER_MINUTE = env_int("INGEST_BROWSER_IP_RATE_PER_MINUTE", 300, minimum=0)
# Most messages in one batch (/v1/batch, a list to /api/v1/events/); more is a 400.
INGEST_BATCH_MAX_MESSAGES = env_int("INGEST_BATCH_MAX_MESSAGES", 500, minimum=1)
# Seconds an ingestion process keeps a write key's source in memory instead of asking the
# database on every request; 0: ask every time. A source changed through the API or the command
# (disabled, rotated, origins, limits) is seen at once by the process that changed it and within
# this many seconds by the others.
INGEST_SOURCE_CACHE_SECONDS = env_int("INGEST_SOURCE_CACHE_SECONDS", 5, minimum=0)
# Browser page views and tracks (one call a request: most of a website's traffic) are accepted
# into a Redis list and stored in PostgreSQL in batches by the worker (events/buffer.py), instead
# of one INSERT a request. Needs REDIS_URL, and a Redis that keeps its data on disk (as the Celery
# queue needs anyway; docker-compose.yml does). Off: every call is stored before the answer.
INGEST_BROWSER_BUFFER = env_bool("INGEST_BROWSER_BUFFER", True)
# Most rows the buffer holds (no worker draining it): past this, requests store their own again.
INGEST_BUFFER_MAX = env_int("INGEST_BUFFER_MAX", 100_000, minimum=0)
# The buffer's Redis list (its drain's lock: the same name + ":drain").
INGEST_BUFFER_KEY = env_str("INGEST_BUFFER_KEY", "leadcrm:events:buffer")
# Prefix of the rate limits' Redis keys.
RATE_LIMIT_KEY_PREFIX = env_str("RATE_LIMIT_KEY_PREFIX", "leadcrm:ratelimit:")
# Reverse proxies in front of leadcrm that append the client's address to X-Forwarded-For;
# 0: the client is the connection's peer (REMOTE_ADDR). Per-IP limits and consent evidence
# use it; set it to exactly the number of proxies, or clients can pick their own address.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0, minimum=0)
# --- API abuse limits ---------------------------------------------------------------------------
# REST API requests an hour per signed-in user, and per client address without one (0: no
# limit); the next is a 429 with Retry-After. Far above any real use (an integration syncing
# thousands of leads): they stop abuse, not work. Ingestion is not counted: /v1/* has its
# per-source limits above, /api/v1/events/ its batch limit.
API_RATE_PER_USER_PER_HOUR = env_int("API_RATE_PER_USER_PER_HOUR", 100_000, minimum=0)
API_RATE_ANON_PER_HOUR = env_int("API_RATE_ANON_PER_HOUR", 10_000, minimum=0)
# --- Lead-capture forms (web) -------------------------------------------------------------------
# A form sent sooner than this many seconds after it was shown is refused (bots fill at once).
FORMS_MIN_FILL_SECONDS = env_int("FORMS_MIN_FILL_SECONDS", 3, minimum=0)
# A double opt-in confirmation link works for this many days after it was sent.
FORMS_CONFIRM_MAX_AGE_DAYS = env_int("FORMS_CONFIRM_MAX_AGE_DAYS", 7, minimum=1)
# Submissions a minute from one IP address (all forms), and to one form (all addresses): the
# next one is answered 429 with Retry-After. Counted in Redis; off without REDIS_URL.
FORMS_RATE_PER_IP_PER_MINUTE = env_int("FORMS_RATE_PER_IP_PER_MINUTE", 10, minimum=1)
FORMS_RATE_PER_FORM_PER_MINUTE = env_int("FORMS_RATE_PER_FORM_PER_MINUTE", 600, minimum=1)
# Prefix of the forms' rate-limit keys in Redis.
FORMS_KEY_PREFIX = env_str("FORMS_KEY_PREFIX", "leadcrm:forms:")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
}

# --- Scoring ----------------------------------------------------------------------------------
# Events scored per pass: larger passes amortise the per-pass statements under heavy ingestion.
# Bigger passes read each touched lead's history once for more of its new events; at 10,000
# the bench's scoring kept up with 6,600 events/s under load, against 4,600 at 2,000.
SCORING_BATCH_SIZE = env_int("SCORING_BATCH_SIZE", 10000, minimum=1)
# Leads per re-score chunk, each one transaction: bounds a chunk's memory and lock time.
SCORING_RESCORE_CHUNK = env_int("SCORING_RESCORE_CHUNK", 10000, minimum=1)
# The sweep fit-checks leads updated since its last run minus this margin, so that changes
# committed by transactions still open at that run are not missed.
SCORING_FIT_SWEEP_MARGIN_SECONDS = env_int("SCORING_FIT_SWEEP_MARGIN_SECONDS", 600, minimum=0)
# The sweep restarts a re-score whose last heartbeat is older than this (its chain of steps
# broke). More than a step's 10 s budget, so that a running step is not doubled.
SCORING_RESCORE_STALE_SECONDS = env_int("SCORING_RESCORE_STALE_SECONDS", 180, minimum=30)
# Prefix of scoring's Redis keys (the kick's coalescing flag and the kicked lead ids).
SCORING_KEY_PREFIX = env_str("SCORING_KEY_PREFIX", "leadcrm:scoring:")
# Kicks within this many milliseconds make one scoring task (which runs when it closes).
SCORING_KICK_WINDOW_MS = env_int("SCORING_KICK_WINDOW_MS", 500, minimum=1)

# --- CSV imports --------------------------------------------------------------------------------
# The largest CSV an import accepts, in bytes (a larger upload is a 413 before anything is read
# into the database). 50 MB holds about 500,000 rows of contact fields.
LEADCRM_IMPORT_MAX_BYTES = env_int("LEADCRM_IMPORT_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
# Rows per import batch, each one transaction (its leads, bad rows and progress together), then
# one scoring pass over its leads. Larger batches amortise each pass's fixed statements (the
# bench ran 25% faster at 10,000 than at 2,000); 5,000 keeps the progress bar moving and a
# batch's locks short.
IMPORT_BATCH_SIZE = env_int("IMPORT_BATCH_SIZE", 5000, minimum=1)
# Seconds an import task works before handing over to a fresh task (well inside the broker's
# visibility timeout, so a long import is never delivered twice while it runs).
IMPORT_STEP_SECONDS = env_int("IMPORT_STEP_SECONDS", 20, minimum=1)
# --- Privacy (GDPR) -----------------------------------------------------------------------------
# The pepper of the keyed hash an erased lead's address is kept as (leads.privacy): without it
# the hash of a guessed address cannot be checked. Set it once and keep it: changing it forgets
# which addresses were erased. Unset, it is derived from SECRET_KEY (so rotating SECRET_KEY then
# changes it too: set this before you rotate).
LEADCRM_ERASURE_PEPPER = (
    env_str("LEADCRM_ERASURE_PEPPER")
    or hmac.new(SECRET_KEY.encode(), b"leadcrm.erasure-pepper", hashlib.sha256).hexdigest()
)
# Raw events are kept this many days after they were received, then deleted by an hourly job
# (leadcrm/schedule.py); 0 keeps them forever. Leads, scores, the scoring ledger and reports stay.
LEADCRM_EVENT_RETENTION_DAYS = env_int("LEADCRM_EVENT_RETENTION_DAYS", 0, minimum=0)
# Events deleted per transaction by that job.
LEADCRM_EVENT_RETENTION_BATCH = env_int("LEADCRM_EVENT_RETENTION_BATCH", 5000, minimum=1)
# Two-factor log-in: on, admins must set it up (and pass it at every log-in) before they can
# use the app; everyone else may turn it on for themselves.
LEADCRM_ADMIN_2FA_REQUIRED = env_bool("LEADCRM_ADMIN_2FA_REQUIRED", False)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = "leadcrm"
