"""manage.py check_health: the /healthz checks for scripts; exit status 0 when healthy, 1 otherwise."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from feeds.ops import health


class Command(BaseCommand):
    help = "Check the database, the task broker, the worker and the scheduler; exit 1 when one is unwell."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print /healthz's JSON instead of lines")

    def handle(self, *args: Any, **options: Any) -> None:
        checks = health.report()
        if options["json"]:
            self.stdout.write(json.dumps(health.as_json(checks)))
        else:
            for check in checks:
                mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("FAIL")
                self.stdout.write(f"{mark} {check.name}: {check.detail}")
        if not health.healthy(checks):
            raise SystemExit(1)
