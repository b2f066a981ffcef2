"""The OpenAPI document lists every error an operation can answer, in the error envelope.

FastAPI documents only its own 422 (in a shape the API never sends). The errors an
operation can answer follow from what it is, which the generated document already says:

- every operation under ``/api``: 429 (rate limits);
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
cannot drift from the code). Statuses a route declares itself are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from saas_server.core.errors import all_error_classes

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
        statuses.add(429)
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
    return {status: list(by_code.values()) for status, by_code in examples.items()}


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
    return {
        "description": DESCRIPTIONS.get(status, "Error"),
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
                    responses[key] = _response(status, path, examples)
                elif "content" not in declared:
                    # Declared by the route with its own description: the envelope is the body.
                    responses[key] = {**_response(status, path, examples), **declared}
    return spec


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the errors a route answers beyond what its shape tells (an anonymous
    route that checks credentials answers 401); the envelope is filled in for each."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` list every error each operation can answer."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
