"""Django settings, all read from the environment through config.env.

With no environment the app runs on the embedded default (SQLite in var/, Celery tasks in-process, a
development secret kept in var/). BAOXIAO_ENV=production turns on every deployment safeguard and
refuses to start without a real secret and allowed hosts.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from config.env import (
    ConfigError,
    database_config,
    development_secret,
    env_bool,
    env_int,
    env_list,
    env_str,
    redis_url_checked,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BAOXIAO_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

BAOXIAO_ENV = env_str("BAOXIAO_ENV", "development")
if BAOXIAO_ENV not in {"development", "production"}:
    raise ConfigError(f"BAOXIAO_ENV={BAOXIAO_ENV!r}: use development or production")
PRODUCTION = BAOXIAO_ENV == "production"

DEBUG = env_bool("BAOXIAO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ConfigError("BAOXIAO_DEBUG must be off when BAOXIAO_ENV=production")

SECRET_KEY = env_str("BAOXIAO_SECRET_KEY")
if PRODUCTION:
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
        raise ConfigError(
            "BAOXIAO_ENV=production needs BAOXIAO_SECRET_KEY: at least 50 random characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))")'
        )
elif not SECRET_KEY:
    SECRET_KEY = development_secret(VAR_DIR)

ALLOWED_HOSTS = env_list("BAOXIAO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigError("BAOXIAO_ENV=production needs BAOXIAO_ALLOWED_HOSTS, e.g. baoxiao.example.com")
CSRF_TRUSTED_ORIGINS = env_list("BAOXIAO_CSRF_TRUSTED_ORIGINS")
# The public address of this instance: links in emails and OA messages point here.
BAOXIAO_BASE_URL = env_str("BAOXIAO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "guardian",
    "auditlog",
    "axes",
    "csp",
    "django_htmx",
    "config",
    "audit",
    "org",
    "reimbursement",
    "approvals",
    "oa_bridge",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Axes goes last so it sees the outcome of every authentication attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "config.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {"default": database_config(DATABASE_URL, VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------------
REDIS_URL = redis_url_checked(env_str("REDIS_URL"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "baoxiao",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery reads every CELERY_* setting below (config/celery.py). Without REDIS_URL tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env_str("BAOXIAO_CELERY_QUEUE", "baoxiao")
# At-least-once delivery (design §3): a task is acknowledged only after it ran, a task whose worker died
# goes back to the queue, and each worker process reserves one task at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("BAOXIAO_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("BAOXIAO_TASK_TIME_LIMIT", 300)
# Redis re-delivers an unacknowledged task after the visibility timeout; it must exceed the longest task
# or a slow task would run twice while still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("BAOXIAO_VISIBILITY_TIMEOUT", 3600)}
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT:
    raise ConfigError("BAOXIAO_VISIBILITY_TIMEOUT must be longer than BAOXIAO_TASK_TIME_LIMIT")

# --- Authentication -------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lock the attacked account, not the address: an attacker rotating addresses still hits the limit, and
# colleagues behind the same NAT are not locked out by one person's typos.
AXES_FAILURE_LIMIT = env_int("BAOXIAO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("BAOXIAO_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes warns that rotating user agents bypasses address-based limits; ours count per account, which a
# rotating client cannot escape, so the warning does not apply.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env_int("BAOXIAO_PROXY_COUNT", 0)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("BAOXIAO_SESSION_HOURS", 12) * 3600
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("BAOXIAO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("BAOXIAO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Load balancers probe /healthz over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env_bool("BAOXIAO_BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script or style anywhere: every script and stylesheet is a file under static/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("BAOXIAO_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("BAOXIAO_MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development whitenoise serves straight from the source folders, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("BAOXIAO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("BAOXIAO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("BAOXIAO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("BAOXIAO_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("BAOXIAO_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("BAOXIAO_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("BAOXIAO_EMAIL_FROM", "baoxiao@localhost")

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: it names the scheme in WWW-Authenticate, so a request without credentials gets 401
    # (DRF answers 403 when the first authenticator has no scheme to announce, as sessions do).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: the browsable API needs inline script, which the CSP forbids; /api/docs/ serves people.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON in; the upload endpoint declares multipart itself.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Baoxiao API",
    "DESCRIPTION": (
        "Expense reimbursement: claims, approvals, payments and the OA bridge.\n\n"
        "Sign in with `POST /api/v1/auth/token/` and send `Authorization: Token <token>`. Every error is "
        '`{"error": {"code", "message", "fields"}}`; amounts are decimal strings, each with its '
        "currency. POSTs that create or decide honour an `Idempotency-Key` header."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so a generated client knows what it sends and receives.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The enum hook is drf-spectacular's default; ours documents the errors every operation of a kind gives.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.api.document_shared_errors"],
    # Swagger UI from this server's static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ClaimStatusEnum": "reimbursement.choices.ClaimStatus",
        "InvoiceKindEnum": "reimbursement.choices.InvoiceKind",
    },
}

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("BAOXIAO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Guardian and auditlog ------------------------------------------------------------------------
ANONYMOUS_USER_NAME = None
AUDITLOG_INCLUDE_ALL_MODELS = False

# --- Reimbursement ---------------------------------------------------------------------------------
BAOXIAO_BASE_CURRENCY = env_str("BAOXIAO_BASE_CURRENCY", "CNY").upper()
BAOXIAO_CURRENCIES = sorted(
    {c.upper() for c in env_list("BAOXIAO_CURRENCIES", ["CNY", "USD", "EUR", "HKD", "JPY", "GBP", "SGD"])}
    | {BAOXIAO_BASE_CURRENCY}
)
# A foreign-currency line takes the latest table rate on or before its date, at most this many days old.
BAOXIAO_FX_MAX_AGE_DAYS = env_int("BAOXIAO_FX_MAX_AGE_DAYS", 7)
BAOXIAO_MAX_UPLOAD_MB = env_int("BAOXIAO_MAX_UPLOAD_MB", 10)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Approvals -------------------------------------------------------------------------------------
BAOXIAO_REMINDER_INTERVAL_HOURS = env_int("BAOXIAO_REMINDER_INTERVAL_HOURS", 24)
BAOXIAO_REMINDERS_BEFORE_ESCALATION = env_int("BAOXIAO_REMINDERS_BEFORE_ESCALATION", 2)

# --- OA bridge -------------------------------------------------------------------------------------
# Enqueue delivery right after commit (the beat sweeper repairs anything the broker lost).
BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = env_bool("BAOXIAO_OUTBOX_DELIVER_ON_COMMIT", True)
# A claimed event is not retried by anyone else for this long; longer than the HTTP timeouts.
BAOXIAO_OUTBOX_LEASE_SECONDS = env_int("BAOXIAO_OUTBOX_LEASE_SECONDS", 60)
# How long one webhook POST may wait for the answer (the connect timeout is at most 5 s and at most this).
BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS = env_int("BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS", 10)
_OUTBOX_HTTP_WAIT = min(5, BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS) + BAOXIAO_OUTBOX_HTTP_TIMEOUT_SECONDS
if BAOXIAO_OUTBOX_LEASE_SECONDS <= _OUTBOX_HTTP_WAIT:
    # Otherwise the sweeper hands an event to a second worker while the first is still waiting for the OA.
    raise ConfigError("BAOXIAO_OUTBOX_LEASE_SECONDS must be longer than the connect and read timeouts together")
# Multiplies every delay of the retry schedule (5 s, 5 min, 30 min, ...). For tests and drills only: the fault
# tests run a worker with 0.01 so that three days of retries fit in a minute.
try:
    BAOXIAO_OUTBOX_RETRY_SCALE = float(env_str("BAOXIAO_OUTBOX_RETRY_SCALE", "1"))
except ValueError:
    raise ConfigError("BAOXIAO_OUTBOX_RETRY_SCALE is a number, e.g. 1 or 0.01") from None
# /healthz reports "degraded" when the oldest undelivered event is older than this.
BAOXIAO_OUTBOX_ALERT_AGE_SECONDS = env_int("BAOXIAO_OUTBOX_ALERT_AGE_SECONDS", 900)
# The built-in OA sandbox (a demo OA inside this app); off in production unless asked for.
BAOXIAO_OA_SANDBOX = env_bool("BAOXIAO_OA_SANDBOX", not PRODUCTION)

# Required services: tests marked postgres/redis fail instead of skipping when this is set (CI).
BAOXIAO_REQUIRE_SERVICES = env_bool("BAOXIAO_REQUIRE_SERVICES", False)

# --- Reports and exports (reports/) ----------------------------------------------------------------
# Export files live under VAR_DIR/exports and are deleted by a beat task this many days after they were made.
BAOXIAO_EXPORT_RETENTION_DAYS = env_int("BAOXIAO_EXPORT_RETENTION_DAYS", 7)
# Up to this many rows a file is made during the request; above, it is a background job with a progress page.
BAOXIAO_EXPORT_DIRECT_MAX_ROWS = env_int("BAOXIAO_EXPORT_DIRECT_MAX_ROWS", 5000)
# A PDF is for reading: above this many rows, ask for CSV or XLSX instead.
BAOXIAO_EXPORT_PDF_MAX_ROWS = env_int("BAOXIAO_EXPORT_PDF_MAX_ROWS", 20000)

# Test-only, never from the environment: True makes lock_claim, the approval-task lock and the payment locks
# take no row lock (config/locks.py), so tests/races/ can show what the database's constraints guarantee alone.
BAOXIAO_TEST_DISABLE_ROW_LOCKS = False
