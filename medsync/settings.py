"""MedSync settings. Every deploy-specific value comes from the environment.

See README.md "Configuration" for the full list of variables.
"""

from __future__ import annotations

import os
from pathlib import Path

from csp.constants import NONE, SELF

from medsync import env as environment
from medsync.schedule import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent
# Only an explicit MEDSYNC_TESTING=1 (pyproject's pytest env sets it) turns on the test-only
# shortcuts (development secret key, fast hasher); importing pytest never does.
TESTING = environment.read_bool("MEDSYNC_TESTING", False)

DEBUG = environment.read_bool("DEBUG", False)

_DEV_SECRET = "insecure-development-secret-key-do-not-use-in-production-0123456789"  # noqa: S105 - only with DEBUG or in tests
SECRET_KEY = environment.env.ENVIRON.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Environment variable SECRET_KEY is required when DEBUG is false."
        )
    SECRET_KEY = _DEV_SECRET

ALLOWED_HOSTS = environment.read(
    "ALLOWED_HOSTS", environment.env.list, ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = environment.read("CSRF_TRUSTED_ORIGINS", environment.env.list, [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "medsync.apps.MedSyncConfig",
    "patients.apps.PatientsConfig",
    "billing.apps.BillingConfig",
    "messaging.apps.MessagingConfig",
    "scheduling.apps.SchedulingConfig",
    "reports.apps.ReportsConfig",
]

MIDDLEWARE = [
    "medsync.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "medsync.middleware.UploadLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "medsync.accounts.middleware.SessionDetailsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "medsync.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "medsync.middleware.TenantMiddleware",
    "medsync.accounts.middleware.MfaRequiredMiddleware",  # after OTP and Tenant
]

ROOT_URLCONF = "medsync.urls"
WSGI_APPLICATION = "medsync.wsgi.application"

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
                "medsync.context_processors.tenant",
            ],
        },
    },
]

# --- Data stores ------------------------------------------------------------
DATABASES = {
    "default": environment.read_database(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/medsync"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = environment.read_positive_int("DB_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# Row-level security (README "Row-level security"): in production DATABASE_URL is the app
# role (medsync_app), `migrate` runs with DATABASE_URL=$DATABASE_OWNER_URL (medsync_owner),
# and DATABASE_PLATFORM_URL (medsync_platform, BYPASSRLS) serves only the named cross-tenant
# escapes (medsync.tenancy.scopes_disabled), routed by medsync.rls.PlatformRouter.
if environment.env.ENVIRON.get("DATABASE_PLATFORM_URL"):
    DATABASES["platform"] = environment.read_database("DATABASE_PLATFORM_URL", "")
    DATABASES["platform"].update(
        CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=True,
        OPTIONS={"connect_timeout": 5},
        TEST={"MIRROR": "default"},
    )
DATABASE_ROUTERS = ["medsync.rls.PlatformRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Every SQL statement of the web processes is cancelled after this long (0: no limit), set on
# each connection they open (medsync/web_limits.py, from wsgi.py); jobs and commands keep
# the server default and may set their own.
WEB_STATEMENT_TIMEOUT_SECONDS = environment.read_whole_number("WEB_STATEMENT_TIMEOUT_SECONDS", 15)

# Uploads (imports): refused by declared size before reading (medsync.middleware), at most
# UPLOAD_MAX_FILES files and UPLOAD_MAX_MB in all; files over 2.5 MB stream to disk.
UPLOAD_MAX_BYTES = environment.read_positive_int("UPLOAD_MAX_MB", 50) * 1024 * 1024
UPLOAD_MAX_FILES = environment.read_positive_int("UPLOAD_MAX_FILES", 10)
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # form fields besides files
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

REDIS_URL = environment.read_url("REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss"))
if TESTING and os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    # Parallel test workers (pytest-xdist) each get their own test database from
    # pytest-django; give each its own Redis database too, so one worker's cache.clear()
    # never wipes another's state mid-test. Databases 1-7 are for gw0-gw6.
    _worker = int(os.environ["PYTEST_XDIST_WORKER"][2:])
    REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + f"/{1 + _worker % 7}"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "medsync",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Accounts and sessions ---------------------------------------------------
AUTH_USER_MODEL = "medsync.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # counts failures, locks out brute force
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Idle timeout: the session lives SESSION_IDLE_MINUTES after the last request a person
# made; background polling (`?poll=1`) never pushes it on (medsync.middleware.SessionActivity).
SESSION_IDLE_MINUTES = environment.read_positive_int("SESSION_IDLE_MINUTES", 15)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False  # SessionActivityMiddleware saves on every non-poll request
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Client address and brute-force lockout (SECURITY.md) ---------------------------
# Proxies in front of the app that append to X-Forwarded-For (0: the peer is the client).
# The one client-IP rule (medsync.request_context.client_ip) feeds the audit log, axes
# and the API throttles (REST_FRAMEWORK["NUM_PROXIES"]).
TRUSTED_PROXY_COUNT = environment.read_whole_number("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "medsync.request_context.client_ip"
# django-axes with three separate limits (medsync.lockout): email + address, address alone,
# email alone; a successful login clears its email + address count.
AXES_HANDLER = "medsync.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = environment.read_positive_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_LIMIT_PER_IP = environment.read_positive_int("LOGIN_FAILURE_LIMIT_PER_IP", 30)
LOGIN_FAILURE_LIMIT_PER_USER = environment.read_positive_int("LOGIN_FAILURE_LIMIT_PER_USER", 20)
AXES_COOLOFF_TIME = environment.read_positive_int("LOGIN_LOCKOUT_MINUTES", 15) / 60
# A locked address's further tries are refused unrecorded: they neither extend its lockout
# nor count toward the email's own limit (one address cannot lock an account out).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLED = environment.read_bool("LOGIN_LOCKOUT_ENABLED", True)

API_TOKEN_TTL_DAYS = environment.read_positive_int("API_TOKEN_TTL_DAYS", 90)

# Second factor (django-otp: TOTP apps + single-use recovery codes); see README "Accounts".
# Sessions are stored under the SHA-256 of their key, with the user, so people can list
# and end them (medsync/accounts/sessions.py).
SESSION_ENGINE = "medsync.accounts.sessions"
OTP_TOTP_ISSUER = environment.env.ENVIRON.get("OTP_TOTP_ISSUER", "MedSync")

# --- Email --------------------------------------------------------------------
EMAIL_CONFIG = environment.read("EMAIL_URL", environment.env.email_url, "consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = environment.env.ENVIRON.get(
    "DEFAULT_FROM_EMAIL", "MedSync <no-reply@localhost>"
)
PASSWORD_RESET_TIMEOUT = 60 * 60  # one hour: a reset link is a credential

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and scheduled in UTC; each pharmacy's zone is applied in the app
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise; assets come from packages, never a CDN) ------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    ("vendor/pico", BASE_DIR / "node_modules" / "@picocss" / "pico" / "css"),
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    BASE_DIR / "medsync" / "static",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security ----------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = environment.read_proxy_header("SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = environment.read_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = (
    environment.read_positive_int("SECURE_HSTS_SECONDS", 31_536_000)
    if not (DEBUG or TESTING)
    else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not (DEBUG or TESTING)
CSRF_COOKIE_SECURE = not (DEBUG or TESTING)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "medsync.api.auth.BearerTokenAuthentication",
        "medsync.api.auth.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["medsync.api.permissions.RoleAllows"],
    "DEFAULT_PAGINATION_CLASS": "medsync.api.pagination.Pagination",
    # JSON only: people explore the API in /api/v1/docs/ (Swagger UI), not a browsable API.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "medsync.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "medsync.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": environment.env.ENVIRON.get("API_TOKEN_RATE", "10/min")},
    # Throttle identity = the client-IP rule above (None would trust a forged X-Forwarded-For).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MedSync API",
    "DESCRIPTION": "Medication synchronization for community pharmacies. "
    "Authenticate with `Authorization: Bearer <token>` from POST /api/v1/auth/token/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "DEFAULT_GENERATOR_CLASS": "medsync.api.schema.ScopeFreeSchemaGenerator",
    # The schema and Swagger UI are for signed-in people and token holders only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "medsync.api.schema.add_error_responses",  # every 4xx status, one ErrorResponse body
    ],
    "ENUM_NAME_OVERRIDES": {
        "USStateEnum": "medsync.models.US_STATES",
        "DisenrollReasonEnum": "scheduling.models.DisenrollReason",
        # Three "kind" choice sets of clinical care, each named for what it lists.
        "AppointmentKindEnum": "scheduling.models.appointments.AppointmentKind",
        "ServiceOfferKindEnum": "scheduling.models.appointments.OfferKind",
        "ClinicalServiceKindEnum": "billing.service_claim_models.ServiceKind",
    },
}

# --- Celery (Redis broker; the one beat schedule lives in medsync/schedule.py) ------
CELERY_BROKER_URL = environment.read_url("CELERY_BROKER_URL", REDIS_URL, ("redis", "rediss"))
CELERY_TASK_DEFAULT_QUEUE = environment.env.ENVIRON.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_RESULT_BACKEND = None  # the database is the truth: tasks write rows, not results
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
# Redis redelivers an unacknowledged task after this long; ETAs must stay below it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging: one line per event, with the request id; never PHI -------------------
LOG_LEVEL = environment.env.ENVIRON.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "medsync.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# The admin is for platform staff only; a non-obvious path keeps scanners away.
ADMIN_URL_PATH = environment.env.ENVIRON.get("ADMIN_URL_PATH", "admin/")

if TESTING:
    # Tests log in hundreds of times; the production hasher would dominate their run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Development and tests serve assets straight from the finders; production serves
# the hashed, compressed copies that `collectstatic` writes to STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

# --- Messaging (SMS): see README "Messaging" -------------------------------------------
# Gateway: "console" (development default: stores and logs, no credentials) or "twilio".
MESSAGING_GATEWAY = environment.env.ENVIRON.get("MESSAGING_GATEWAY", "console").strip().lower()
if MESSAGING_GATEWAY not in {"console", "twilio"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"Environment variable MESSAGING_GATEWAY={MESSAGING_GATEWAY!r} is malformed: "
        "use console or twilio."
    )
# The public https origin Twilio calls (webhook signatures are computed over it), e.g.
# https://medsync.example.com. Blank: the request's own URL (honours SECURE_PROXY_SSL_HEADER).
MESSAGING_PUBLIC_BASE_URL = environment.env.ENVIRON.get("MESSAGING_PUBLIC_BASE_URL", "").rstrip("/")
if MESSAGING_PUBLIC_BASE_URL:
    environment.read_url("MESSAGING_PUBLIC_BASE_URL", "", ("https", "http"))
# Fallback Twilio credentials for pharmacies whose SMS settings leave them blank.
TWILIO_ACCOUNT_SID = environment.env.ENVIRON.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = environment.env.ENVIRON.get("TWILIO_AUTH_TOKEN", "")
# Texts per second per sender number (a US long code sends about 1); 0 turns the limit off.
MESSAGING_SENDER_RATE = environment.read("MESSAGING_SENDER_RATE", environment.env.float, 1.0)
if MESSAGING_SENDER_RATE < 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"Environment variable MESSAGING_SENDER_RATE={MESSAGING_SENDER_RATE!r} is malformed: "
        "expected 0 or more."
    )
# The send window in the patient's local time (whole hours), and the healthcare-exemption
# limits for automated texts (FCC 15-72: at most 1 a day and 3 a week).
MESSAGING_QUIET_HOURS_START = environment.read_positive_int("MESSAGING_QUIET_HOURS_START", 8)
MESSAGING_QUIET_HOURS_END = environment.read_positive_int("MESSAGING_QUIET_HOURS_END", 21)
if not MESSAGING_QUIET_HOURS_START < MESSAGING_QUIET_HOURS_END <= 23:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "Environment variables MESSAGING_QUIET_HOURS_START/END are malformed: "
        "expected whole hours with START < END <= 23."
    )
MESSAGING_DAILY_LIMIT = environment.read_positive_int("MESSAGING_DAILY_LIMIT", 1)
MESSAGING_WEEKLY_LIMIT = environment.read_positive_int("MESSAGING_WEEKLY_LIMIT", 3)
# Transient gateway errors: attempts in all, first backoff (doubles each time, capped 1 h).
MESSAGING_MAX_ATTEMPTS = environment.read_positive_int("MESSAGING_MAX_ATTEMPTS", 5)
MESSAGING_RETRY_BACKOFF_SECONDS = environment.read_positive_int(
    "MESSAGING_RETRY_BACKOFF_SECONDS", 30
)
# A claim older than this is presumed lost (worker killed): checked with the gateway, then
# requeued only if the provider never got the text.
MESSAGING_CLAIM_TIMEOUT_SECONDS = environment.read_positive_int(
    "MESSAGING_CLAIM_TIMEOUT_SECONDS", 300
)
# One dispatch task sends for at most this long, then queues its own continuation.
MESSAGING_BATCH_SECONDS = environment.read_positive_int("MESSAGING_BATCH_SECONDS", 50)
# Console gateway only: a text to this number is stored, then the send never returns, as
# when a provider took a text but its answer was lost (tests kill a worker stuck there).
MESSAGING_CONSOLE_HOLD_NUMBER = environment.read(
    "MESSAGING_CONSOLE_HOLD_NUMBER", environment.env.str, ""
)
# Used when a patient has no home pharmacy and the organization no pharmacy.
MESSAGING_DEFAULT_TIME_ZONE = environment.read_timezone(
    "MESSAGING_DEFAULT_TIME_ZONE", "America/Chicago"
)
# The inbox's "simulate an inbound reply" button (development only).
MESSAGING_SIMULATOR_ENABLED = environment.read_bool(
    "MESSAGING_SIMULATOR_ENABLED", DEBUG and MESSAGING_GATEWAY == "console"
)
# --- end Messaging -------------------------------------------------------------------------

# --- Webhooks (medsync/webhooks) ---------------------------------------------------------------
# Subscriptions must be https://; plain http only for development and tests (a local server).
WEBHOOKS_ALLOW_HTTP = environment.read_bool("WEBHOOKS_ALLOW_HTTP", DEBUG or TESTING)
# The first retry of a failed delivery waits this long; each next one twice as long (max 1 h).
WEBHOOKS_RETRY_BASE_SECONDS = environment.read_positive_int("WEBHOOKS_RETRY_BASE_SECONDS", 30)
# --- end Webhooks ------------------------------------------------------------------------------

# --- Scheduling (the sync engine) ------------------------------------------------------------
# Rows a sweep claims per batch; the queries per batch do not depend on it.
SCHEDULING_SWEEP_BATCH_SIZE = environment.read_positive_int("SCHEDULING_SWEEP_BATCH_SIZE", 1000)
# Runs of each sweep queued per organization, for that many workers to share a large program.
SCHEDULING_SWEEP_PARTITIONS = environment.read_positive_int("SCHEDULING_SWEEP_PARTITIONS", 1)
# --- end Scheduling --------------------------------------------------------------------------
