"""manage.py create_workspace SLUG --name NAME --admin EMAIL [--password PW]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from feeds.accounts.people import create_workspace_with_admin


class Command(BaseCommand):
    help = "Create a workspace and its first admin (prints the admin's password when one is generated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=False)
        parser.add_argument("--admin", required=True, help="email address of the first admin")
        parser.add_argument("--password", required=False, help="default: a generated one, printed once")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace, user, password = create_workspace_with_admin(
            options["slug"], options["name"] or options["slug"], options["admin"], options["password"]
        )
        self.stdout.write(f"Workspace “{workspace.name}” ({workspace.slug}); admin {user.get_username()}")
        if password and not options["password"]:
            self.stdout.write(f"Password: {password}")
