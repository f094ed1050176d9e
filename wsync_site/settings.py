"""wsync settings: everything comes from the environment, with embedded defaults for one-command starts.

Production mode (WSYNC_DEBUG unset and WSYNC_DEV unset) refuses to start without SECRET_KEY and
WSYNC_FERNET_KEYS, instead of silently inventing them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("WSYNC_DATA_DIR", BASE_DIR / "data"))


def env(name: str, default: str | None = None) -> str | None:
    """Return an environment value; NAME_FILE (a container secret file) wins over NAME."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("WSYNC_DEBUG")
# Development mode: the embedded defaults (demo, tests) may use generated local secrets.
DEV_MODE = DEBUG or env_bool("WSYNC_DEV")


def _local_secret(name: str, make: str) -> str:
    """Return a secret kept in the data folder, created once, for development mode only."""
    if not DEV_MODE:
        raise ImproperlyConfigured(
            f"{name} is not set. Set it in the environment (or {name}_FILE), or set "
            "WSYNC_DEV=1 to run on the embedded development defaults."
        )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f".{name.lower()}"
    if not path.exists():
        if make == "fernet":
            from cryptography.fernet import Fernet

            value = Fernet.generate_key().decode()
        else:
            import secrets

            value = secrets.token_urlsafe(50)
        path.write_text(value)
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY") or _local_secret("SECRET_KEY", "token")
# Several comma-separated keys: the first encrypts, all decrypt (rotation).
WSYNC_FERNET_KEYS = [
    k.strip()
    for k in (env("WSYNC_FERNET_KEYS") or _local_secret("WSYNC_FERNET_KEYS", "fernet")).split(",")
    if k.strip()
]

ALLOWED_HOSTS = [h.strip() for h in (env("ALLOWED_HOSTS") or "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in (env("CSRF_TRUSTED_ORIGINS") or "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "axes",
    "feeds.accounts",
    "feeds",
    "feeds.pages",
    "feeds.profiles",
    "feeds.sync",
    "feeds.connect",
    "feeds.model",
    "feeds.map",
    "feeds.schedule",
    "feeds.review",
    "feeds.api",
    "feeds.ops",
    "feeds.rules",
    "feeds.outputs",
]

MIDDLEWARE = [
    "feeds.ops.logs.RequestLogMiddleware",  # first: its time covers every other middleware
    "feeds.ops.proxy.TrustedProxyMiddleware",  # the browser's address, before sign-in throttling reads it
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "feeds.accounts.middleware.IdleSessionMiddleware",
    "feeds.accounts.middleware.LoginRequiredMiddleware",
    # Last, as its documentation asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "wsync_site.urls"
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
                "feeds.accounts.context.workspaces",
            ],
        },
    }
]
WSGI_APPLICATION = "wsync_site.wsgi.application"


def database_from_url(url: str) -> dict[str, Any]:
    """Return Django's settings for the database at `url`."""
    database: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    if database["ENGINE"] == "django.db.backends.postgresql":
        # No JIT: the store's statements are many short index probes whose cost estimates cross
        # jit_above_cost, and compiling them took ~140 ms a statement, several times the query itself.
        options = database.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    return database


DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "wsync.sqlite3"),
            # WAL lets the web process read while a worker writes a page. IMMEDIATE: every transaction
            # takes the write lock at BEGIN, where SQLite waits up to `timeout` for it; a DEFERRED one
            # would upgrade a read lock mid-transaction, and SQLite answers that upgrade "database is
            # locked" at once, without waiting (docs/sync.md). A 64 MB page cache and a WAL checkpoint every
            # 64 MB (not every 4 MB) write a first load's pages to disk ~40% fewer times (docs/store.md).
            # synchronous=FULL syncs the WAL at every commit, so a committed page survives a power loss too
            # (NORMAL only a crash of the process); that is one sync per page of rows, measured at no cost.
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                    "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=16384;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 60,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# People choose their own passwords (invitations, change, reset): all four of Django's checks apply.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "feeds:home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# WhiteNoise serves static files from the app processes (no separate web server needed); until
# `collectstatic` has run it finds them where they live, so the one-command start works as is.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security: cookies, TLS, Content-Security-Policy, sessions, sign-in, email -----------------------------
# Production (no WSYNC_DEV / WSYNC_DEBUG) is safe by default: cookies only over HTTPS, HTTP redirected to
# HTTPS, HSTS for a year; each can be turned off from the environment (see the README's production section).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("WSYNC_SECURE_COOKIES", default=not DEV_MODE)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("WSYNC_SSL_REDIRECT", default=not DEV_MODE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = int(env("WSYNC_HSTS_SECONDS") or (0 if DEV_MODE else 365 * 24 * 3600))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("WSYNC_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("WSYNC_HSTS_PRELOAD", default=True)
# Behind a proxy that ends TLS: the header it sets on HTTPS requests, e.g. X-Forwarded-Proto (value https).
# Only set it when the proxy always sets or strips that header, or a client could claim HTTPS.
WSYNC_PROXY_SSL_HEADER = env("WSYNC_PROXY_SSL_HEADER")
if WSYNC_PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + WSYNC_PROXY_SSL_HEADER.strip().upper().replace("-", "_"), "https")

# Content-Security-Policy (django-csp): scripts, styles and fonts only from our own static files, so no inline
# <script>, style="..." or event-handler attribute runs. Bootstrap draws form icons as data: SVG images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# Sessions end after this many minutes without a request (each request moves the end; see
# feeds.accounts.middleware.IdleSessionMiddleware), instead of Django's fixed two weeks.
WSYNC_SESSION_IDLE_MINUTES = int(env("WSYNC_SESSION_IDLE_MINUTES") or 120)
SESSION_COOKIE_AGE = WSYNC_SESSION_IDLE_MINUTES * 60

# Sign-in throttling (django-axes): after WSYNC_LOGIN_FAILURE_LIMIT failed sign-ins for one account, or from
# one address, further attempts are refused (429) for WSYNC_LOGIN_LOCKOUT_MINUTES; a success resets the count.
AUTHENTICATION_BACKENDS = [
    "feeds.accounts.signin.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env("WSYNC_LOGIN_FAILURE_LIMIT") or 5)
AXES_COOLOFF_TIME = timedelta(minutes=int(env("WSYNC_LOGIN_LOCKOUT_MINUTES") or 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account, and separately per address
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "feeds.accounts.signin.username_of"
AXES_LOCKOUT_CALLABLE = "feeds.accounts.signin.locked_out"
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True  # no table row per successful sign-in: the failures are what the lockout needs
AXES_VERBOSE = False

# Password reset and member invitations are sent by email: printed on the console in development, sent
# through the SMTP server given by EMAIL_HOST and friends in production. Links stay valid this long.
if DEV_MODE and not env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST") or "localhost"
    EMAIL_PORT = int(env("EMAIL_PORT") or 587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL") or "wsync <wsync@localhost>"
PASSWORD_RESET_TIMEOUT = int(env("WSYNC_LINK_HOURS") or 72) * 3600

# API request bodies: larger ones are answered 413, deeper-nested JSON 400 (both in the API's error shape).
WSYNC_API_MAX_BODY_BYTES = int(env("WSYNC_API_MAX_BODY_BYTES") or 1024 * 1024)
WSYNC_API_MAX_JSON_DEPTH = int(env("WSYNC_API_MAX_JSON_DEPTH") or 32)

# django-q2: the ORM broker by default, Redis when WSYNC_REDIS_URL is set. retry > timeout, always.
WSYNC_REDIS_URL = env("WSYNC_REDIS_URL")
WSYNC_TASK_TIMEOUT = int(env("WSYNC_TASK_TIMEOUT") or 6 * 3600)
Q_CLUSTER: dict[str, object] = {
    "name": env("WSYNC_Q_NAME") or "wsync",
    "workers": int(env("WSYNC_WORKERS") or 2),
    "timeout": WSYNC_TASK_TIMEOUT,
    "retry": WSYNC_TASK_TIMEOUT + 600,
    "max_attempts": 1,
    "save_limit": 1000,
    "catch_up": False,
    "ack_failures": True,
    "poll": 1,
}
if WSYNC_REDIS_URL:
    Q_CLUSTER["redis"] = WSYNC_REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# The cache every process shares (the API's rate-limit counters live in it): Redis when WSYNC_REDIS_URL is
# set, else the database's cache table, which the feeds.api migrations create.
CACHE_TABLE = "wsync_cache"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": WSYNC_REDIS_URL}
    if WSYNC_REDIS_URL
    else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": CACHE_TABLE}
}
# API requests per minute per API credential (and token requests per client id), counted in that cache.
WSYNC_API_RATE_LIMIT = int(env("WSYNC_API_RATE_LIMIT") or 600)
# A running run's worker bumps its heartbeat every few seconds; a run without one for this long is taken
# over by the feed's next minute tick (a worker on the same host that finds the owner process gone takes it
# over at once).
WSYNC_STALE_RUN_SECONDS = int(env("WSYNC_STALE_RUN_SECONDS") or 60)
# A wizard's draft untouched for this many days is removed (feeds/wizard/abandoned.py); 0 keeps drafts.
WSYNC_DRAFT_DAYS = int(env("WSYNC_DRAFT_DAYS") or "30")


def _private_hosts(value: str | None) -> bool | list[str]:
    """Read WSYNC_ALLOW_PRIVATE_HOSTS: 1/true/yes/on allows every address; else a list of networks."""
    text = (value or "").strip()
    if text.lower() in {"1", "true", "yes", "on"}:
        return True
    return [
        n.strip()
        for n in text.split(",")
        if n.strip() and n.strip().lower() not in {"0", "false", "no", "off"}
    ]


# Outbound addresses (warehouses, their redirects) must be globally routable unicast unless allowed here:
# "1" allows every address (the tests and the demo), a comma-separated list of networks such as
# "10.20.0.0/16,fd12:3456::/48" allows only those (a warehouse in your own network, not the metadata service).
WSYNC_ALLOW_PRIVATE_HOSTS = _private_hosts(env("WSYNC_ALLOW_PRIVATE_HOSTS"))
# Where DuckDB connections may point: never the data folder itself, which holds wsync's keys and database
# (a system check refuses such a root). The demo warehouse lives in the first root.
WSYNC_DUCKDB_ROOTS = [
    p for p in (env("WSYNC_DUCKDB_ROOTS") or str(DATA_DIR / "warehouses")).split(os.pathsep) if p
]
WSYNC_PREVIEW_ROWS = int(env("WSYNC_PREVIEW_ROWS") or 100)
WSYNC_PREVIEW_TIMEOUT = int(env("WSYNC_PREVIEW_TIMEOUT") or 30)
WSYNC_PAGE_SIZE = int(env("WSYNC_PAGE_SIZE") or 5000)
# WSYNC_READ_AHEAD=1: a run reads and maps its next page in a second thread while it writes this one (docs/sync.md,
# "Reading ahead: both cores"). Off by default: measured slower on a 2-core machine, quiet or busy.
WSYNC_READ_AHEAD = env_bool("WSYNC_READ_AHEAD", False)
# A full-mode run holds up to this many row fingerprints in memory (16 bytes each); bigger feeds keep none and
# map and resolve every row (docs/store.md).
WSYNC_FINGERPRINTS_IN_MEMORY = int(env("WSYNC_FINGERPRINTS_IN_MEMORY") or 8_000_000)

# --- Operations: logs, health, metrics, alerts (docs/operations.md) ----------------------------------------
# One line per request and per run step, carrying run/feed/workspace ids; JSON objects with WSYNC_LOG_JSON=1.
WSYNC_LOG_JSON = env_bool("WSYNC_LOG_JSON")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"wsync_context": {"()": "feeds.ops.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "feeds.ops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s%(wsync_context)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["wsync_context"],
            "formatter": "json" if WSYNC_LOG_JSON else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env("WSYNC_LOG_LEVEL") or "INFO"},
    # axes logs every sign-in at INFO; its warnings (failures, lockouts) are the ones worth keeping.
    # django.request repeats each 4xx/5xx the request line already has (a 5xx's traceback still shows).
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
# /healthz: a worker or scheduler not seen for longer than this is unhealthy (both beat at least every minute).
WSYNC_HEALTH_STALE_SECONDS = int(env("WSYNC_HEALTH_STALE_SECONDS") or 180)
# /metrics answers only with `Authorization: Bearer <this token>`; unset, it is off (404).
WSYNC_METRICS_TOKEN = env("WSYNC_METRICS_TOKEN") or ""
# Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the browser's address.
WSYNC_TRUSTED_PROXIES = [n.strip() for n in (env("WSYNC_TRUSTED_PROXIES") or "").split(",") if n.strip()]
# Where people reach wsync: the links in alert emails and webhook messages.
WSYNC_BASE_URL = env("WSYNC_BASE_URL") or "http://127.0.0.1:8000"
