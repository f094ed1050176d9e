"""Log lines that say which run, feed and workspace they are about, as text or JSON (WSYNC_LOG_JSON=1).

Never a secret: request lines carry the method, the path (invitation and reset tokens blanked), the status
and the time, never a query string, body, header or cookie; run lines carry ids, counters and timings.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

CONTEXT_FIELDS = ("run_id", "feed_id", "workspace_id")
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "cpu_ms", "user_id", "workspace")
_context: ContextVar[dict[str, Any] | None] = ContextVar("wsync_log_context", default=None)
# Paths whose last segments are one-time secrets (password reset, invitations).
_TOKEN_PATH = re.compile(r"^(/accounts/(?:reset|invite)/)[^/]+/[^/]+/")
request_log = logging.getLogger("wsync.request")


def set_context(**ids: Any) -> None:
    """Make every line logged from here on (in this thread or task) carry these ids; none clears them."""
    _context.set({k: v for k, v in ids.items() if v is not None} or None)


@contextmanager
def context(**ids: Any) -> Iterator[None]:
    """Carry these ids on every line logged inside the block."""
    token = _context.set({k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copy the current run/feed/workspace ids onto each record (as attributes, for either format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        ids = [f"{k.removesuffix('_id')}={getattr(record, k)}" for k in CONTEXT_FIELDS if hasattr(record, k)]
        record.wsync_context = f" [{' '.join(ids)}]" if ids else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids and request fields present."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in (*CONTEXT_FIELDS, *REQUEST_FIELDS, "step", "seconds"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def safe_path(path: str) -> str:
    """Return the request path with one-time tokens blanked."""
    return _TOKEN_PATH.sub(r"\1…/…/", path)


class RequestLogMiddleware:
    """One line per request: method, path, status, milliseconds, user and workspace.

    `cpu_ms` is the CPU time the request's thread used (gunicorn runs each request on one thread): a request
    whose `duration_ms` is far above it waited, for a core, a lock or the database, rather than computed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started, cpu_started = time.perf_counter(), time.thread_time()
        response = self.get_response(request)
        ms = round((time.perf_counter() - started) * 1000, 1)
        cpu_ms = round((time.thread_time() - cpu_started) * 1000, 1)
        user = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        fields = {
            "method": request.method,
            "path": safe_path(request.path),
            "status": response.status_code,
            "duration_ms": ms,
            "cpu_ms": cpu_ms,
            "user_id": user.pk if user is not None and user.is_authenticated else None,
            "workspace": match.kwargs.get("ws") if match else None,
        }
        request_log.info(
            "%s %s %s %.0f ms (CPU %.0f ms)",
            *(fields[k] for k in ("method", "path", "status")),
            ms,
            cpu_ms,
            extra=fields,
        )
        return response
