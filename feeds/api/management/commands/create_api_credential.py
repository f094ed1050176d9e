"""Print a new API credential's client id and secret (the secret is shown this once)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from feeds.accounts.models import Role, Workspace
from feeds.api.credentials import create_credential


class Command(BaseCommand):
    help = "Create an API credential for a workspace and print its client id and secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--name", default="Command-line credential")
        parser.add_argument("--created-by", help="email of the user recorded on changes made with it")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"There is no workspace “{options['workspace']}”.")
        user = None
        if options["created_by"]:
            user = get_user_model().objects.filter(email=options["created_by"]).first()
            if user is None:
                raise CommandError(f"There is no user with the email {options['created_by']}.")
        issued = create_credential(workspace, name=options["name"], role=options["role"], user=user)
        self.stdout.write(f"client_id: {issued.credential.client_id}")
        self.stdout.write(f"client_secret: {issued.client_secret}")
        self.stdout.write("Keep the secret now: wsync stores only its hash and cannot show it again.")
