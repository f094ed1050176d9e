"""manage.py demo: migrate, create the demo workspace and warehouse, then run the production web server
(gunicorn) and a worker."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from feeds.accounts.people import create_workspace_with_admin
from feeds.demo import demo_warehouse_path, move_old_demo_warehouse, write_demo_warehouse
from feeds.models import Connection, Provider

DEMO_EMAIL = "demo@wsync.local"
# Ctrl-C or SIGTERM stops the web server and the worker within this many seconds (then they are killed).
STOP_SECONDS = 9


class Command(BaseCommand):
    help = "Start wsync on the embedded defaults with demo data: web on http://127.0.0.1:8000 and a worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--setup-only", action="store_true", help="create the demo data, start nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        password = self.setup_demo()
        self.stdout.write(self.style.SUCCESS(f"wsync demo: sign in at http://{options['addr']}/"))
        self.stdout.write(f"  email:    {DEMO_EMAIL}\n  password: {password}")
        if not options["setup_only"]:
            self.serve(options["addr"])

    def setup_demo(self) -> str:
        """Create the demo workspace, admin, warehouse file and connection; return the admin password."""
        password = os.environ.get("WSYNC_DEMO_PASSWORD") or _stored_password()
        workspace, user, _ = create_workspace_with_admin("demo", "Demo", DEMO_EMAIL, password)
        moved = move_old_demo_warehouse()
        if moved is not None:
            self.stdout.write(f"Moved the demo warehouse out of the data folder, to {moved}.")
        warehouse = demo_warehouse_path()
        if not warehouse.exists():
            write_demo_warehouse(warehouse)
        Connection.objects.get_or_create(
            workspace=workspace,
            slug="demo-warehouse",
            defaults={
                "name": "Demo warehouse",
                "provider": Provider.DUCKDB,
                "config": {"path": str(warehouse)},
                "created_by": user,
                "last_modified_by": user,
            },
        )
        return password

    def serve(self, addr: str) -> None:
        """Run gunicorn and a worker until Ctrl-C or SIGTERM, then stop both within STOP_SECONDS."""
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        children = [_start([*_manage(), "qcluster"]), _start(_gunicorn(addr))]
        # Either child ending on its own (a port in use, a crash) ends the demo too.
        while not stop.wait(0.5) and all(c.poll() is None for c in children):
            pass
        self.stdout.write("Stopping wsync: the web server finishes its requests, the worker its task…")
        killed = _stop(children)
        self.stdout.write(f"Killed {len(killed)} that did not stop in time." if killed else "wsync stopped.")


def _manage() -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]


def _gunicorn(addr: str) -> list[str]:
    """Return the production server's command line (wsync_site/gunicorn_conf.py), bound to `addr`."""
    conf = "python:wsync_site.gunicorn_conf"
    return [sys.executable, "-m", "gunicorn", "-c", conf, "--bind", addr, "wsync_site.wsgi:application"]


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C reaches only the demo, which stops each child in order; a child that
    # does not stop in time is killed with everything it started.
    return subprocess.Popen(command, start_new_session=True, cwd=settings.BASE_DIR)


def _stop(children: list[subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """SIGTERM each child (graceful for both), then kill what is left after STOP_SECONDS; return those."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline, killed = time.monotonic() + STOP_SECONDS, []
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # A sync still running is taken over by the next worker that starts (docs/sync.md).
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            killed.append(child)
    return killed


def _stored_password() -> str:
    """Return the demo password kept in the data folder, generated on the first start."""
    path = Path(settings.DATA_DIR) / ".demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()
