"""The OpenAPI document lists every error an operation can answer, in the error envelope.

FastAPI documents only its own 422 (in a shape the API never sends). The errors an
operation can answer follow from what it is, which the generated document already says:

- every operation under ``/api``: 429 (rate limits) and 503 (maintenance mode), both with
  ``Retry-After``;
- taking parameters or a body: 422; taking a body: 413 and 415 as well;
- with a security requirement (it reads the caller): 401 and 403;
- with a path parameter, or a query parameter or body field ending in ``_id`` (it names
  a resource): 404;
- changing something (POST, PUT, PATCH, DELETE): 400 (a domain rule refused it) and 409
  (a state that does not allow it, or a concurrent request that took the same key);
- whatever a route declares with ``responses=errors(...)`` (an anonymous route that checks
  credentials itself answers 401).

Each error is described by the envelope schema, with one real example per error code the
platform defines for that status (taken from the domain errors themselves, so the examples
cannot drift from the code). Statuses a route declares itself are kept. An error that is the
same on every operation is described once in ``components/responses`` and referenced.

``document_api`` also applies the rest of decision 0019 to the generated document: security
requirements from the API-key scope table, one tag per resource, examples
(core/openapi_examples.py), plain schema names and distinct summaries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from saas_server.core.errors import all_error_classes
from saas_server.core.openapi_examples import add_examples

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
HTTP_METHODS = frozenset({"get", "head", "options", *WRITE_METHODS})

DESCRIPTIONS = {
    400: "A rule of the resource refused the request",
    401: "No valid credentials (missing, expired or revoked token or API key)",
    403: "The caller may not do this",
    404: "The resource does not exist, or the caller may not see it",
    409: "The resource's state does not allow this, or a concurrent request changed it",
    413: "The request body is too large",
    415: "The request body's Content-Type is not one this operation takes",
    422: "The request is invalid (details: field -> messages)",
    429: "Too many requests (Retry-After says when to try again)",
    502: "The tenant's Odoo could not be reached or refused the call (details.odoo_error)",
    503: "The platform is in maintenance (Retry-After says when to try again)",
}

# Headers an error answer carries that a client acts on (SDKs retry after Retry-After).
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the current window",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "When the window resets (Unix epoch seconds)",
        "schema": {"type": "integer"},
    },
}
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    429: {**RETRY_AFTER, **RATE_LIMIT_HEADERS},
    503: RETRY_AFTER,
}

# Errors the HTTP layer answers itself, with no domain error class behind them.
BUILT_IN_EXAMPLES: dict[int, list[tuple[str, str, dict[str, Any]]]] = {
    413: [("PAYLOAD_TOO_LARGE", "The request body is larger than 1048576 bytes", {})],
    415: [
        (
            "UNSUPPORTED_MEDIA_TYPE",
            "The body was sent with Content-Type 'text/plain'; this endpoint takes "
            "application/json",
            {"content_type": "text/plain", "accepted": ["application/json"]},
        )
    ],
    422: [
        (
            "VALIDATION_ERROR",
            "The request is invalid",
            {"email": ["value is not a valid email address"], "page": ["Input should be ≤ 1"]},
        )
    ],
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. TENANT_NOT_FOUND.")
    message: str = Field(description="Human-readable message.")
    details: dict[str, Any] = Field(
        description="Structured details; for VALIDATION_ERROR, field -> list of messages."
    )
    request_id: str = Field(description="The request's id, also in the X-Request-ID header.")
    timestamp: str = Field(description="RFC 3339, UTC, with a Z suffix.")


class ErrorResponse(BaseModel):
    """Every error the API answers has this body (shared/conventions.md)."""

    error: ErrorDetail


def _body_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The top-level field names of the operation's JSON or form body."""
    fields: set[str] = set()
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        candidates = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
        for candidate in candidates:
            ref = candidate.get("$ref", "")
            resolved = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else candidate
            fields |= set(resolved.get("properties", {}))
    return fields


def error_statuses(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any] | None = None
) -> set[int]:
    statuses: set[int] = set()
    parameters = operation.get("parameters") or []
    has_body = "requestBody" in operation
    if path.startswith("/api/"):
        # Rate limits; maintenance mode (admin/maintenance.py: every /api call but logins).
        statuses |= {429, 503}
    if parameters or has_body:
        statuses.add(422)
    if has_body:
        statuses |= {413, 415}
    if operation.get("security"):
        statuses |= {401, 403}
    names = {p.get("name", "") for p in parameters}
    names |= _body_fields(operation, schemas or {})
    if any(p.get("in") == "path" for p in parameters) or any(n.endswith("_id") for n in names):
        statuses.add(404)
    if method in WRITE_METHODS:
        statuses |= {400, 409}
    return statuses


def _examples_by_status() -> dict[int, list[tuple[str, str, dict[str, Any]]]]:
    examples: dict[int, dict[str, tuple[str, str, dict[str, Any]]]] = {}
    for status, items in BUILT_IN_EXAMPLES.items():
        for code, message, details in items:
            examples.setdefault(status, {})[code] = (code, message, details)
    for error in all_error_classes():
        examples.setdefault(error.status_code, {}).setdefault(
            error.code, (error.code, error.message, {})
        )
    # By code: the document must not depend on the order modules were imported in.
    return {status: [by_code[c] for c in sorted(by_code)] for status, by_code in examples.items()}


def _resources(path: str) -> list[str]:
    """``/tenants/{tenant_id}/backups/{backup_id}`` -> ``["TENANT", "BACKUP"]``."""
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [n.removesuffix("_id").upper() for n in names]


def _example_body(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "request_id": "6f1c2b0e9d8a4c7b",
            "timestamp": "2026-01-01T00:00:00Z",
        }
    }


def _response(
    status: int, path: str, examples: dict[int, list[tuple[str, str, dict[str, Any]]]]
) -> dict[str, Any]:
    candidates = examples.get(status) or [(f"HTTP_{status}", DESCRIPTIONS[status], {})]
    if status == 404:
        # The not-found codes of the resources this path names, the generic one otherwise.
        resources = _resources(path)
        named = [c for c in candidates if c[0].split("_NOT_FOUND")[0] in resources]
        candidates = named or [c for c in candidates if c[0] == "NOT_FOUND"] or candidates
    headers = {"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {}
    return {
        "description": DESCRIPTIONS.get(status, "Error"),
        **headers,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                "examples": {
                    code: {"summary": message, "value": _example_body(code, message, details)}
                    for code, message, details in candidates
                },
            }
        },
    }


def add_error_responses(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorResponse"] = error_schema
    # FastAPI's own 422 shape is never sent: the envelope replaces it.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    examples = _examples_by_status()
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            declared_errors = {int(k) for k in responses if k.isdigit() and int(k) >= 400}
            expected = error_statuses(path, method, operation, schemas)
            for status in sorted(expected | declared_errors):
                key = str(status)
                declared = responses.get(key)
                if declared is None or _is_fastapi_validation_error(declared):
                    responses[key] = _shared_response(spec, status, path, examples)
                elif "content" not in declared:
                    # Declared by the route with its own description: the envelope is the body.
                    responses[key] = {**_response(status, path, examples), **declared}
    shared = spec["components"].get("responses")
    if shared:
        spec["components"]["responses"] = dict(sorted(shared.items()))
    return spec


# Errors whose description and examples are the same on every operation: described once
# in components/responses and referenced (the 404's examples name each path's resources).
SHARED_RESPONSES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    429: "TooManyRequests",
    503: "Maintenance",
}


def _shared_response(
    spec: dict[str, Any],
    status: int,
    path: str,
    examples: dict[int, list[tuple[str, str, dict[str, Any]]]],
) -> dict[str, Any]:
    name = SHARED_RESPONSES.get(status)
    if name is None:
        return _response(status, path, examples)
    shared = spec["components"].setdefault("responses", {})
    if name not in shared:
        shared[name] = _response(status, path, examples)
    return {"$ref": f"#/components/responses/{name}"}


def resolve_response(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """An operation's response, or the shared one (components/responses) it refers to."""
    ref = response.get("$ref")
    if not isinstance(ref, str):
        return response
    shared: dict[str, Any] = spec["components"]["responses"][ref.rsplit("/", 1)[-1]]
    return shared


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the errors a route answers beyond what its shape tells (an anonymous
    route that checks credentials answers 401); the envelope is filled in for each."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


# -- security schemes ----------------------------------------------------------------------

BEARER_SCHEME = "bearerAuth"
API_KEY_SCHEME = "apiKeyAuth"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "`Authorization: Bearer <token>`: a login's access token "
        "(POST /api/v1/auth/login), or an API key (`saas_live_...`) where the operation "
        f"accepts keys (it lists `{API_KEY_SCHEME}`, with the scope the key needs).",
    },
    API_KEY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key (POST /api/v1/api-keys). The scope a key needs is listed "
        "in the operation's security requirement; a key confined to one tenant reaches only "
        "that tenant. A key is also accepted as `Authorization: Bearer <key>`.",
    },
}

# (METHOD, path template) -> the operation's security requirements: [] for a public route,
# None to leave what FastAPI found (auth/scopes.py answers; app.py connects it).
SecurityRequirements = Callable[[str, str], list[dict[str, list[str]]] | None]


def apply_security(spec: dict[str, Any], requirements: SecurityRequirements | None) -> None:
    components = spec.setdefault("components", {})
    generated = set(components.get("securitySchemes", {}))
    components["securitySchemes"] = dict(SECURITY_SCHEMES)
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            wanted = requirements(method.upper(), path) if requirements else None
            if wanted is None:
                # Not in the scope table: FastAPI's own scheme means a login token (and a key
                # is refused on a route the table does not list).
                found = operation.get("security") or []
                wanted = [{BEARER_SCHEME: []}] if any(set(r) & generated for r in found) else []
            if wanted:
                operation["security"] = wanted
            else:
                operation.pop("security", None)


# -- tags --------------------------------------------------------------------------------

# operationId prefix -> its resource's tag (the longest prefix wins), and what each tag is.
TAG_OF_PREFIX: dict[str, str] = {
    "health": "health",
    "auth": "auth",
    "api_keys": "api-keys",
    "users_subscriptions": "subscriptions",
    "users": "users",
    "tenants_instances": "instances",
    "tenants_subscriptions": "subscriptions",
    "tenants_billing": "billing",
    "tenants_metrics": "monitoring",
    "tenants_logs": "monitoring",
    "tenants": "tenants",
    "members": "members",
    "invitations": "invitations",
    "instances": "instances",
    "backups": "backups",
    "restores": "restores",
    "audit": "audit",
    "events": "events",
    "webhook": "webhooks",
    "security": "security",
    "integrations": "integrations",
    "odoo": "integrations",
    "billing_subscriptions": "subscriptions",
    "subscriptions": "subscriptions",
    "billing": "billing",
    "admin_plans": "admin",
    "admin": "admin",
}
TAGS: dict[str, str] = {
    "auth": "Registration, login, tokens and the caller's own profile",
    "api-keys": "API keys: created from a login session, shown once, scoped, revocable",
    "users": "The user directory (platform admins) and users' tenants",
    "tenants": "Tenants: one Odoo database each, with its members and instance",
    "members": "A tenant's members and their roles",
    "invitations": "Invitations to join a tenant",
    "instances": "Odoo instances: status, transitions, start/stop/restart",
    "backups": "Backups of a tenant's database and filestore",
    "restores": "Restores of a backup into its tenant",
    "events": "The real-time event stream (Server-Sent Events)",
    "webhooks": "Outbound webhook endpoints and their deliveries",
    "subscriptions": "Subscriptions and their seats",
    "billing": "Plans, invoices, payment methods, billing details",
    "monitoring": "A tenant's metrics and logs",
    "audit": "The audit trail",
    "security": "Security scans, threats and IP blocks",
    "integrations": "Inbound integrations and their events",
    "admin": "Platform administration (platform admins only)",
    "health": "Liveness and readiness",
}


def tag_for(operation_id: str) -> str | None:
    prefixes = [p for p in TAG_OF_PREFIX if operation_id == p or operation_id.startswith(p + "_")]
    return TAG_OF_PREFIX[max(prefixes, key=len)] if prefixes else None


def apply_tags(spec: dict[str, Any]) -> None:
    """One tag per operation, its resource's; an operation no prefix names keeps its own."""
    used: list[str] = []
    for operations in spec.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            tag = tag_for(operation.get("operationId", ""))
            if tag is not None:
                operation["tags"] = [tag]
            for name in operation.get("tags", []):
                if name not in used:
                    used.append(name)
    ordered = [t for t in TAGS if t in used] + [t for t in used if t not in TAGS]
    spec["tags"] = [
        {"name": name, **({"description": TAGS[name]} if name in TAGS else {})} for name in ordered
    ]


def distinct_summaries(spec: dict[str, Any]) -> None:
    """A summary shared by two operations (PATCH and PUT both "Update Tenant") or of one word
    ("Create") tells a reader of the docs or of the Postman collection nothing: such an
    operation is summarised from its operationId instead ("Tenants: replace")."""
    operations = [
        operation
        for item in spec.get("paths", {}).values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    counts: dict[str, int] = {}
    for operation in operations:
        summary = operation.get("summary", "")
        counts[summary] = counts.get(summary, 0) + 1
    for operation in operations:
        summary = operation.get("summary", "")
        operation_id = operation.get("operationId", "")
        if (counts[summary] > 1 or len(summary.split()) < 2) and "_" in operation_id:
            resource, verb = operation_id.rsplit("_", 1)
            operation["summary"] = f"{resource.replace('_', ' ').capitalize()}: {verb}"


_REF_PREFIX = "#/components/schemas/"


def _component_name(name: str) -> str:
    """``Page_TenantRead_`` -> ``TenantReadPage``; ``saas_server__webhooks__schemas__AttemptRead``
    (FastAPI's name for one of two models of the same name) -> ``WebhooksAttemptRead``."""
    generic = re.fullmatch(r"([A-Za-z0-9]+)_([A-Za-z0-9]+)_", name)
    if generic:
        return f"{generic.group(2)}{generic.group(1)}"
    if "__" in name:
        parts = name.split("__")
        # The domain package names the model apart: saas_server, <domain>, ..., <Model>.
        return parts[1].capitalize() + parts[-1] if len(parts) > 2 else parts[-1]
    return name


def short_component_names(spec: dict[str, Any]) -> None:
    """Schema names become SDK class names: none carries Python's generic brackets or a
    module path (which changes when a module moves). Every ``$ref`` follows the rename."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    renames = {name: _component_name(name) for name in schemas}
    renames = {old: new for old, new in renames.items() if old != new and new not in schemas}
    if not renames or len(set(renames.values())) != len(renames):
        return
    spec["components"]["schemas"] = {renames.get(k, k): v for k, v in schemas.items()}
    for new in renames.values():
        # Generators that name classes after titles get the same name (not "Page[TenantRead]").
        spec["components"]["schemas"][new]["title"] = new

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
                target = ref.removeprefix(_REF_PREFIX)
                node["$ref"] = _REF_PREFIX + renames.get(target, target)
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(spec)


def document_api(app: FastAPI, *, security: SecurityRequirements | None = None) -> None:
    """Make ``app.openapi()`` the document the SDKs are made from: each operation with its
    security requirements (``security``: from the scope table), its resource's tag, examples,
    and every error it can answer."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            short_component_names(spec)
            apply_security(spec, security)
            apply_tags(spec)
            distinct_summaries(spec)
            add_examples(spec)
            app.openapi_schema = add_error_responses(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_text(document: dict[str, Any]) -> str:
    """The document as ``saas openapi`` writes it (sdk/openapi.json): stable, diffable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
