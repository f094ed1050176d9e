"""The served OpenAPI document: ninja's, from the operations' declarations, finished for its readers.

What is added here is not about any one operation: the server, the bearer scheme every operation but the
token exchange uses, the workspace every address starts with (its credential's: feeds.api.auth), and
Retry-After on each 429. The document is written as OpenAPI 3.0.3, because pydantic's JSON Schema 2020-12
spells a nullable value `anyOf: [X, {type: null}]`, which hides X's enum from clients that read
`properties.<name>.enum` (the value lists this API publishes from the models' choices).
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
WORKSPACE_PARAMETER = {
    "name": "workspaceId",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "description": "The API credential's workspace.",
}
NULL = {"type": "null"}


def finish(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """Return the document as it is served (see the module's docstring)."""
    document = _openapi30(document)
    document["openapi"] = "3.0.3"
    document["servers"] = [{"url": server_url}]
    document["security"] = [{"bearer": []}]
    document.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    for address, item in document["paths"].items():
        for operation in item.values():
            operation.pop("security", None)
            if "{workspaceId}" in address:
                operation["parameters"] = [WORKSPACE_PARAMETER, *operation.get("parameters", [])]
            else:
                operation["security"] = []  # the token exchange: it hands the tokens out
            operation["responses"] = {str(code): answer for code, answer in operation["responses"].items()}
            if "429" in operation["responses"]:
                operation["responses"]["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return document


def _openapi30(node: Any) -> Any:
    """Return `node` with JSON Schema's null type written as OpenAPI 3.0's `nullable`."""
    if isinstance(node, list):
        return [_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi30(value) for key, value in node.items()}
    if isinstance(node.get("examples"), list) and node["examples"]:  # 3.0 has one example per schema
        node["example"] = node.pop("examples")[0]
    options = node.get("anyOf")
    if isinstance(options, list) and NULL in options:
        rest = [option for option in options if option != NULL]
        del node["anyOf"]
        if len(rest) == 1:
            only = rest[0]
            node = {**node, **({"allOf": [only]} if "$ref" in only else only)}
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    return node


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every operation as {method, path, summary, description, body, responses} for the docs page."""
    found = []
    for address, item in document["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                operation = item[method]
                body = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
                found.append(
                    {
                        "method": method.upper(),
                        "path": address,
                        "summary": operation["summary"],
                        "description": operation.get("description", ""),
                        "body": body.get("$ref", "").rpartition("/")[2],
                        "responses": sorted(operation["responses"]),
                        "params": [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"],
                    }
                )
    return found
