"""manage.py rotate_fernet_keys: re-encrypt every stored credential with the first WSYNC_FERNET_KEYS key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from feeds import wizard
from feeds.crypto import rotate
from feeds.models import Connection


class Command(BaseCommand):
    help = "Re-encrypt all stored warehouse credentials with the newest key (the first in WSYNC_FERNET_KEYS)."

    def handle(self, *args: Any, **options: Any) -> None:
        table = connection.ops.quote_name(Connection._meta.db_table)
        # Raw tokens: rotating must not decrypt into Python objects that could end up in a log.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id, secrets FROM {table} WHERE secrets IS NOT NULL")
            rows = cursor.fetchall()
            for pk, token in rows:
                cursor.execute(f"UPDATE {table} SET secrets = %s WHERE id = %s", [rotate(token), pk])
            pending = wizard.rotate_pending_secrets()  # a live feed's unsaved connection edits
        self.stdout.write(
            f"Re-encrypted the credentials of {len(rows)} connection(s) and {pending} unsaved "
            "connection edit(s) with the newest key."
        )
