"""gunicorn's settings for wsync (`gunicorn -c python:wsync_site.gunicorn_conf wsync_site.wsgi`).

Processes × threads answer requests at once. A page is mostly database time (the GIL is released meanwhile),
so a few threads per process pay; one process per core is the start (README's production section).
SIGTERM is graceful: workers stop taking new connections and finish their in-flight requests, for up to
`graceful_timeout` seconds.
"""

from __future__ import annotations

import os

bind = os.environ.get("WSYNC_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WSYNC_WEB_WORKERS") or 2)
threads = int(os.environ.get("WSYNC_WEB_THREADS") or 4)
worker_class = "gthread"
# A request slower than this is cut off and its worker replaced; long work belongs to the task workers.
timeout = int(os.environ.get("WSYNC_WEB_TIMEOUT") or 60)
graceful_timeout = int(os.environ.get("WSYNC_WEB_GRACEFUL_SECONDS") or 8)
# An idle keep-alive connection stays open this long (s). It must outlast the client's (or the proxy's) own idle
# time: when both close at once, the client's next request meets a reset (seen in bench/load_bench.py with 5 s).
keepalive = int(os.environ.get("WSYNC_WEB_KEEPALIVE") or 75)
# wsync's own request line (feeds.ops.logs.RequestLogMiddleware) carries the user and workspace: no access log.
accesslog = None
errorlog = "-"
# The proxy in front ends TLS and sets X-Forwarded-For/-Proto; only trust it from these addresses.
forwarded_allow_ips = os.environ.get("WSYNC_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's runtime control socket sits at one path per user: several servers on a host would take it from
# each other, and wsync needs none of it.
control_socket_disable = True
