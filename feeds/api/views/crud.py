"""The five operations of a resource a client names by its own id (connections, data models, field
transformations, pipelines): list, create, get, update and delete, declared once for the four of them.

Each resource passes its schemas and its domain calls; the roles (viewer reads, editor writes, admin
deletes), the status codes, the operation ids and the links from a create to what it made are the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import GenericAlias
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from ninja import Router

from feeds.api.auth import ADMIN, EDITOR, VIEWER
from feeds.api.views.common import CREATES, READS, WRITES, Error, no_content


@dataclass(frozen=True)
class Resource:
    name: str  # the schema's name: Connection, DataModel...
    noun: str  # in summaries: "a connection"
    id_name: str  # the address's name of the id: connectionId
    answer: Any  # the schema of what the operations answer
    create: Any  # the schemas of the create and update bodies
    update: Any
    find: Callable[[HttpRequest, str], Model]  # the caller's object with this id, or NotFound
    save: Callable[[HttpRequest, Any, Any], Model]  # (request, body, object or None) -> the saved object
    delete: Callable[[HttpRequest, Any], None]
    update_role: str = "editor"


def _declared(view: Callable[..., Any], **parameters: Any) -> Callable[..., Any]:
    """Return `view` with the signature ninja reads its parameters from (the id's name differs by resource)."""
    kind = inspect.Parameter.KEYWORD_ONLY
    view.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HttpRequest),
            *(
                inspect.Parameter(name, kind, annotation=annotation)
                for name, annotation in parameters.items()
            ),
        ]
    )
    return view


def crud(router: Router, r: Resource, *, listing: Callable[[HttpRequest], Any] | None = None) -> None:
    """Declare the resource's operations on `router` (`listing` lists them; None: the resource lists its own)."""
    path, name = f"/{{{r.id_name}}}", r.name
    by_id = {"workspaceId": "$request.path.workspaceId", r.id_name: "$response.body#/id"}
    links = {
        f"{verb}{name}": {"operationId": f"{verb.lower()}_{name}", "parameters": by_id}
        for verb in ("Get", "Update", "Delete")
    }
    plural = f"List {r.noun.partition(' ')[2]}s"
    if listing is not None:
        router.get(
            "",
            auth=VIEWER,
            response={200: GenericAlias(list, (r.answer,)), READS: Error},
            operation_id=f"list_{name}",
            summary=plural,
            description="Needs the viewer role.",
        )(_declared(listing))

    def create(request: HttpRequest, body: Any) -> Model:
        return r.save(request, body, None)

    def get(request: HttpRequest, **address: str) -> Model:
        return r.find(request, address[r.id_name])

    def update(request: HttpRequest, body: Any, **address: str) -> Model:
        return r.save(request, body, r.find(request, address[r.id_name]))

    def delete(request: HttpRequest, **address: str) -> Any:
        r.delete(request, r.find(request, address[r.id_name]))
        return no_content()

    router.post(
        "",
        auth=EDITOR,
        response={200: r.answer, CREATES: Error},
        operation_id=f"create_{name}",
        summary=f"Create {r.noun}",
        description="Needs the editor role.",
        openapi_extra={"responses": {200: {"links": links}}},
    )(_declared(create, body=r.create))
    router.get(
        path,
        auth=VIEWER,
        response={200: r.answer, READS: Error},
        operation_id=f"get_{name}",
        summary=f"Get {r.noun}",
        description="Needs the viewer role.",
    )(_declared(get, **{r.id_name: str}))
    router.put(
        path,
        auth=EDITOR,
        response={200: r.answer, WRITES: Error},
        operation_id=f"update_{name}",
        summary=f"Update {r.noun}",
        description=f"Needs the {r.update_role} role.",
    )(_declared(update, **{r.id_name: str, "body": r.update}))
    router.delete(
        path,
        auth=ADMIN,
        response={204: None, WRITES: Error},
        operation_id=f"delete_{name}",
        summary=f"Delete {r.noun}",
        description="Needs the admin role.",
    )(_declared(delete, **{r.id_name: str}))
