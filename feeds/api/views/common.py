"""What the API's operations share: the error schema, the audit and health fields, and look-ups inside the
caller's workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Schema, Status
from pydantic import ConfigDict, WithJsonSchema

from feeds.api.auth import Caller
from feeds.api.errors import Invalid, NotFound
from feeds.api.types import OneOf
from feeds.models import Health as HealthState

# Written as ISO-8601 with milliseconds and “Z”, as mParticle's v2 examples show (feeds.api.app's renderer)
Time = Annotated[datetime | None, WithJsonSchema({"type": "string", "format": "date-time", "nullable": True})]
LEFT_OUT: Any = (
    None  # the default of a field a request may leave out (typed Any: the field itself is not null)
)
READS = frozenset({401, 403, 404, 429})  # what any operation may answer besides its success
WRITES = READS | {400}
CREATES = WRITES | {409}


class Strict(Schema):
    """A request body: JSON's types as they are (no "60" for 60, no 1 for true), as the schema says."""

    model_config = ConfigDict(strict=True)


class ErrorItem(Schema):
    code: str
    message: str
    field: str | None = None


class Error(Schema):
    statusCode: int
    errors: list[ErrorItem]


class Message(Schema):
    message: str


def timestamp(value: datetime | None) -> str | None:
    """Return an ISO-8601 UTC time with milliseconds and “Z”; None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _person(user: Any) -> str | None:
    if user is None:
        return None
    return str(getattr(user, "email", "") or user.get_username())


def messages(items: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    return [{"message": str(item.get("message", ""))} for item in items or []]


class Health(Schema):
    """A stored object's health (feeds.models.Health) and its problems."""

    status: Annotated[str, OneOf(HealthState)]
    errors: list[Message]

    @staticmethod
    def resolve_errors(obj: Any) -> list[dict[str, str]]:
        return messages(obj.errors)


class Audit(Schema):
    created_on: Time
    created_by: str | None
    last_modified_on: Time
    last_modified_by: str | None

    @staticmethod
    def resolve_created_by(obj: Any) -> str | None:
        return _person(obj.created_by)

    @staticmethod
    def resolve_last_modified_by(obj: Any) -> str | None:
        return _person(obj.last_modified_by)


def caller(request: HttpRequest) -> Caller:
    """Return who calls: what the operation's auth (feeds.api.auth.Bearer) resolved."""
    return request.auth  # type: ignore[attr-defined]


def no_content() -> Status:
    return Status(204, None)


def named(name: str, schema: type[Schema]) -> Any:
    """Return `schema` under the name the document gives it, where the module's own name is the model's."""
    return type(name, (schema,), {"__module__": schema.__module__})


def object_id(sent: str | None, address_id: str | None) -> str:
    """Return the client-chosen id: the body's on create, the address's on update (they must agree)."""
    if address_id is not None and sent not in (None, address_id):
        raise Invalid("The id in the body must match the id in the address.", field="id")
    return str(sent or address_id)


def get_in_workspace(queryset: Any, workspace: Any, slug: str, noun: str) -> Any:
    """Return the object with this id in the workspace; raises NotFound (the same for any other workspace)."""
    # No id holds NUL, and PostgreSQL refuses it in a query (a 500): such an address names nothing.
    found = queryset.filter(workspace=workspace, slug=slug).first() if "\x00" not in slug else None
    if found is None:
        raise NotFound(f"There is no {noun} “{slug}” in this workspace.")
    return found
