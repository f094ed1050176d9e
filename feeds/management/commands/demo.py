"""manage.py demo: migrate, create the demo workspace and warehouse, then run the web server and a worker."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from feeds.accounts.people import create_workspace_with_admin
from feeds.demo import demo_warehouse_path, move_old_demo_warehouse, write_demo_warehouse
from feeds.models import Connection, Provider

DEMO_EMAIL = "demo@wsync.local"


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
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        worker = subprocess.Popen([*manage, "qcluster"])
        web = subprocess.Popen([*manage, "runserver", addr, "--noreload"])
        try:
            web.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in (web, worker):
                process.wait(timeout=30)


def _stored_password() -> str:
    """Return the demo password kept in the data folder, generated on the first start."""
    path = Path(settings.DATA_DIR) / ".demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()
