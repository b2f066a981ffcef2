"""Examples for the OpenAPI document: every JSON request body and success response gets one.

The SDKs' docs, the Postman collection and the docs pages show them, so they read like a real
call: a value is the schema's own example when it has one, else one chosen by the field's
name (``subdomain`` -> ``"acme"``, ``tenant_id`` -> a UUID), else one made from its type and
constraints. A request example carries the required fields and those with a name-chosen value;
a response example carries every field. tests/core/test_openapi_document.py validates each
example against its schema, so they cannot drift from the models.
"""

from __future__ import annotations

import re
from typing import Any

TENANT_ID = "3f2b8c1e-7d4a-4e9b-a6c5-1b2d3e4f5a6b"
USER_ID = "8a1c2d3e-4f5a-4b6c-9d7e-0f1a2b3c4d5e"
OTHER_ID = "c4d5e6f7-0a1b-4c2d-8e3f-4a5b6c7d8e9f"
TIMESTAMP = "2026-01-15T09:30:00Z"

# Field name -> the value an example shows for it (when the schema allows it).
FIELD_EXAMPLES: dict[str, Any] = {
    "name": "Acme Corp",
    "full_name": "Jane Doe",
    "subdomain": "acme",
    "tenant_subdomain": "acme",
    "tenant_name": "Acme Corp",
    "email": "jane@example.com",
    "contact_email": "billing@acme.example",
    "password": "correct-horse-battery-staple",
    "password_confirm": "correct-horse-battery-staple",
    "current_password": "correct-horse-battery-staple",
    "new_password": "tr0ub4dor-and-3-more-words",
    "token": "eyJhbGciOiJIUzI1NiJ9.example.signature",
    "access_token": "eyJhbGciOiJIUzI1NiJ9.example.signature",
    "refresh_token": "eyJhbGciOiJIUzI1NiJ9.refresh.signature",
    "token_type": "bearer",
    "key": "saas_live_4f9c2a7b1e8d4c6a9b3e5f7a1c2d4e6f",
    "secret": "whsec_5f7a1c2d4e6f4f9c2a7b1e8d4c6a9b3e",
    "prefix": "saas_live_4f9c",
    "scopes": ["tenants:read", "tenants:write", "backups:write"],
    "url": "https://hooks.acme.example/saas",
    "webhook_url": "https://hooks.acme.example/saas",
    "domain": "erp.acme.example",
    "host": "odoo-1.internal",
    "ip": "203.0.113.7",
    "ip_address": "203.0.113.7",
    "source_ip": "203.0.113.7",
    "country": "BE",
    "currency": "EUR",
    "language": "en_US",
    "timezone": "Europe/Brussels",
    "description": "Nightly copy before the upgrade",
    "note": "Nightly copy before the upgrade",
    "reason": "Requested by the customer",
    "message": "Done",
    "odoo_version": "18.0",
    "tier": "starter",
    "role": "member",
    "tenant_role": "member",
    "title": "Acme Corp",
    "count": 1,
    "page": 1,
    "page_size": 20,
    "next": None,
    "previous": None,
    "user_agent": "saas-platform-python/1.0",
    "request_id": "6f1c2b0e9d8a4c7b",
    "status": "active",
    "status_reason": None,
    "is_active": True,
    "email_verified": True,
    "admin_login": "admin",
    "database": "acme",
    "billing_address": "1 Grand-Place, 1000 Brussels",
    "error": None,
    "step": None,
    "deleted_at": None,
    "grace_ends_at": None,
    "estimated_completion": None,
    "last_error": None,
}

# (schema, field) -> the value, where a field name means different things in different models
# (each ``status`` is its own lifecycle's, docs/*-lifecycle.md).
SCHEMA_FIELD_EXAMPLES: dict[tuple[str, str], Any] = {
    ("TenantRead", "status"): "ready",
    ("AdminTenantRead", "status"): "ready",
    ("UserTenantRead", "status"): "ready",
    ("SignupTenant", "status"): "provisioning",
    ("InstanceRead", "status"): "ready",
    ("AdminInstanceRead", "status"): "ready",
    ("BackupRead", "status"): "completed",
    ("BackupRead", "type"): "manual",
    ("RestoreRead", "status"): "completed",
    ("MoveRead", "status"): "completed",
    ("ScanRead", "status"): "completed",
    ("HostRead", "status"): "healthy",
    ("InvoiceRead", "status"): "paid",
    ("ThreatRead", "status"): "open",
    ("DeliveryRead", "status"): "succeeded",
    ("EventRead", "status"): "processed",
    ("EventDetail", "status"): "processed",
    ("InvitationRead", "status"): "pending",
}

_FORMAT_EXAMPLES: dict[str, Any] = {
    "email": "jane@example.com",
    "uuid": OTHER_ID,
    "date-time": TIMESTAMP,
    "date": "2026-01-15",
    "time": "09:30:00",
    "uri": "https://acme.example/",
    "ipv4": "203.0.113.7",
    "ipvanyaddress": "203.0.113.7",
    "ipvanynetwork": "203.0.113.0/24",
    "binary": "",
}

_ID_EXAMPLES = {"tenant_id": TENANT_ID, "user_id": USER_ID, "owner_id": USER_ID}


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return _resolve_named(schema, schemas)[0]


def _resolve_named(
    schema: dict[str, Any], schemas: dict[str, Any], name: str | None = None
) -> tuple[dict[str, Any], str | None]:
    """The schema behind any ``$ref``, and the name of the component it is (if one)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        component = ref.rsplit("/", 1)[-1]
        return _resolve_named(schemas.get(component, {}), schemas, component)
    return schema, name


def _fits(value: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """Whether a name-chosen ``value`` is one ``schema`` takes (a cheap check of the usual
    constraints; the test validates every example for real)."""
    schema = _resolve(schema, schemas)
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return any(_fits(value, option, schemas) for option in schema[combined])
    if "enum" in schema:
        return value in schema["enum"]
    if "const" in schema:
        return bool(value == schema["const"])
    kind = schema.get("type")
    if value is None:
        return kind == "null"
    checks = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    if kind is not None and not checks.get(kind, False):
        return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
            return False
        if schema.get("format") == "uuid" and value.count("-") != 4:
            return False
        if "pattern" in schema:
            if not re.search(schema["pattern"], value):
                return False
    if isinstance(value, list) and "items" in schema:
        items = schema["items"]
        if not all(_fits(v, items, schemas) for v in value):
            return False
    return True


def _string(schema: dict[str, Any]) -> str:
    value = _FORMAT_EXAMPLES.get(schema.get("format", ""), "string")
    if not isinstance(value, str):
        value = "string"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if len(value) < low:
        value = value + "x" * (low - len(value))
    if high is not None and len(value) > high:
        value = value[:high]
    return value


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: int | float = 1
    if low is not None:
        value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if high is not None and value > high:
        value = high
    return int(value) if integer else float(value)


def example_for(
    schema: dict[str, Any],
    schemas: dict[str, Any],
    *,
    name: str | None = None,
    owner: str | None = None,
    full: bool = True,
    depth: int = 0,
) -> Any:
    """An example value of ``schema`` (a field called ``name``). ``full``: every property
    of an object, else only its required ones and those with a name-chosen value."""
    if depth > 8:
        return None
    raw_ref = schema.get("$ref")
    schema, component = _resolve_named(schema, schemas)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if name is not None and owner is not None and (owner, name) in SCHEMA_FIELD_EXAMPLES:
        hinted = SCHEMA_FIELD_EXAMPLES[(owner, name)]
        if _fits(hinted, schema, schemas):
            return hinted
    if name is not None:
        hinted = _ID_EXAMPLES.get(name, FIELD_EXAMPLES.get(name))
        if hinted is None and name.endswith("_id"):
            hinted = OTHER_ID
        if hinted is None and name.endswith("_at"):
            hinted = TIMESTAMP
        if (hinted is not None or name in FIELD_EXAMPLES) and _fits(hinted, schema, schemas):
            return hinted
    if "default" in schema and schema["default"] is not None and raw_ref is None:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            options = [o for o in schema[combined] if _resolve(o, schemas).get("type") != "null"]
            if not options:
                return None
            return example_for(options[0], schemas, name=name, full=full, depth=depth + 1)
    if schema.get("allOf"):
        return example_for(schema["allOf"][0], schemas, name=name, full=full, depth=depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        value: dict[str, Any] = {}
        for prop_name, prop in schema.get("properties", {}).items():
            if not (full or prop_name in required or prop_name in FIELD_EXAMPLES):
                continue
            value[prop_name] = example_for(
                prop, schemas, name=prop_name, owner=component, full=full, depth=depth + 1
            )
        return value
    if kind == "array":
        items = example_for(schema.get("items", {}), schemas, name=None, full=full, depth=depth + 1)
        return [items] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return False
    if kind == "string":
        return _string(schema)
    if kind == "null":
        return None
    return None


def add_examples(spec: dict[str, Any]) -> dict[str, Any]:
    """Put an ``example`` on every JSON request body and success response lacking one."""
    schemas = spec.get("components", {}).get("schemas", {})
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media and "schema" in media and "example" not in media and not media.get("examples"):
                media["example"] = example_for(media["schema"], schemas, full=False)
            for status, response in operation.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                media = response.get("content", {}).get("application/json")
                if not media or not media.get("schema") or "example" in media:
                    continue
                if media.get("examples"):
                    continue
                media["example"] = example_for(media["schema"], schemas, full=True)
    return spec
