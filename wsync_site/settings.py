"""wsync settings: everything comes from the environment, with embedded defaults for one-command starts.

Production mode (WSYNC_DEBUG unset and WSYNC_DEV unset) refuses to start without SECRET_KEY and
WSYNC_FERNET_KEYS, instead of silently inventing them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
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
    "feeds.accounts",
    "feeds",
    "feeds.profiles",
    "feeds.sync",
    "feeds.connect",
    "feeds.model",
    "feeds.map",
    "feeds.schedule",
    "feeds.review",
    "feeds.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "feeds.accounts.middleware.LoginRequiredMiddleware",
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
            # locked" at once, without waiting (docs/sync.md).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 60,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
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

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("WSYNC_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

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
# A running run's worker bumps its heartbeat every few seconds; a run without one for this long is taken
# over by the feed's next minute tick (a worker on the same host that finds the owner process gone takes it
# over at once).
WSYNC_STALE_RUN_SECONDS = int(env("WSYNC_STALE_RUN_SECONDS") or 60)

# Hosts that resolve to private or loopback addresses are refused unless this is set.
WSYNC_ALLOW_PRIVATE_HOSTS = env_bool("WSYNC_ALLOW_PRIVATE_HOSTS")
# Where DuckDB connections may point (the demo warehouse lives in the data folder).
WSYNC_DUCKDB_ROOTS = [p for p in (env("WSYNC_DUCKDB_ROOTS") or str(DATA_DIR)).split(os.pathsep) if p]
WSYNC_PREVIEW_ROWS = int(env("WSYNC_PREVIEW_ROWS") or 100)
WSYNC_PREVIEW_TIMEOUT = int(env("WSYNC_PREVIEW_TIMEOUT") or 30)
WSYNC_PAGE_SIZE = int(env("WSYNC_PAGE_SIZE") or 5000)
# A full-mode run holds up to this many row fingerprints in memory (16 bytes each); bigger feeds look them up
# page by page.
WSYNC_FINGERPRINTS_IN_MEMORY = int(env("WSYNC_FINGERPRINTS_IN_MEMORY") or 8_000_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("WSYNC_LOG_LEVEL") or "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
