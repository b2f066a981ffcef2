"""A Postman collection (format v2.1) made from the OpenAPI document (``saas openapi --postman``).

One folder per tag, one request per operation, in the document's order. Each request's ``id``
is its operationId (so scripts and tests find a request by the name the SDKs use), its name the
summary. Path parameters are the collection variables of the same name (``{{tenant_id}}``),
query parameters are listed disabled with their description, and a JSON body is the operation's
example (or one built from its schema). Authentication follows the document: the collection
sends ``Authorization: Bearer {{accessToken}}`` (a login's access token or an API key), and the
operations the document marks public send none.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from saas_server.core.openapi_examples import example_for

SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# A fixed namespace: the same document gives the same collection id, so regenerating is a no-op.
_COLLECTION_NAMESPACE = uuid.UUID("6f0e3b1c-8a4d-4c2e-9b7a-5d1f2e3c4b5a")


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return _resolve(schemas.get(ref.rsplit("/", 1)[-1], {}), schemas)
    return schema


def _example(schema: dict[str, Any], schemas: dict[str, Any], name: str | None = None) -> Any:
    return example_for(schema, schemas, name=name, full=False)


def _text(value: Any) -> str:
    """A form or query value as Postman shows it (``true``, not Python's ``True``)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _body(operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        media = content["application/json"]
        if "example" in media:
            value = media["example"]
        elif media.get("examples"):
            value = next(iter(media["examples"].values())).get("value")
        else:
            value = _example(media.get("schema", {}), schemas)
        return {
            "mode": "raw",
            "raw": json.dumps(value, indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}},
        }
    if "application/x-www-form-urlencoded" in content:
        schema = _resolve(content["application/x-www-form-urlencoded"].get("schema", {}), schemas)
        required = set(schema.get("required", []))
        return {
            "mode": "urlencoded",
            "urlencoded": [
                {
                    "key": name,
                    "value": _text(_example(prop, schemas, name)),
                    "disabled": name not in required,
                    "type": "text",
                }
                for name, prop in schema.get("properties", {}).items()
            ],
        }
    return None


def _url(path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    segments = [s for s in path.split("/") if s]
    postman_path = [f":{s[1:-1]}" if s.startswith("{") else s for s in segments]
    parameters = operation.get("parameters", [])
    query = [
        {
            "key": p["name"],
            "value": _text(_example(p.get("schema", {}), schemas, p["name"])),
            "description": p.get("description", ""),
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p.get("in") == "query"
    ]
    variables = [
        {"key": p["name"], "value": f"{{{{{p['name']}}}}}", "description": p.get("description", "")}
        for p in parameters
        if p.get("in") == "path"
    ]
    raw = "{{baseUrl}}/" + "/".join(postman_path)
    url: dict[str, Any] = {"raw": raw, "host": ["{{baseUrl}}"], "path": postman_path}
    if query:
        url["query"] = query
    if variables:
        url["variable"] = variables
    return url


def _request_item(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [{"key": "Accept", "value": "application/json"}],
        "url": _url(path, operation, schemas),
        "description": operation.get("description") or operation.get("summary", ""),
    }
    body = _body(operation, schemas)
    if body is not None:
        request["body"] = body
        if body["mode"] == "raw":
            request["header"].append({"key": "Content-Type", "value": "application/json"})
    if not operation.get("security"):
        request["auth"] = {"type": "noauth"}
    operation_id = operation.get("operationId", f"{method}_{path}")
    return {
        "id": operation_id,
        "name": operation.get("summary") or operation_id,
        "request": request,
        "response": [],
    }


def collection_from_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """The Postman collection (v2.1) of every operation in ``document``."""
    schemas = document.get("components", {}).get("schemas", {})
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, path_item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(_request_item(path, method, operation, schemas))
    # Folders in the order the document lists its tags, then any others.
    order = [t["name"] for t in document.get("tags", [])]
    ranked = sorted(folders, key=lambda t: order.index(t) if t in order else len(order))
    info = document.get("info", {})
    name = info.get("title", "API")
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(_COLLECTION_NAMESPACE, f"{name} {info.get('version')}")),
            "name": name,
            "description": info.get("description", ""),
            "schema": SCHEMA_URL,
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
        },
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8000"},
            {"key": "accessToken", "value": ""},
        ],
        "item": [{"name": tag, "item": folders[tag]} for tag in ranked],
    }
