"""The OpenAPI document the SDKs are generated from (issue 18): stable readable operationIds,
and the committed sdk/openapi.json is the app's own document."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from saas_server.cli.openapi import build_document
from saas_server.core.openapi import document_text, resolve_response
from saas_server.core.operation_ids import (
    OPERATION_ID_FORM,
    OPERATION_IDS,
    derived_operation_id,
    operation_id_for,
)

REPOSITORY = Path(__file__).resolve().parents[2]
COMMITTED = REPOSITORY / "sdk" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_id_is_resource_verb_snake_case_and_unique(
    document: dict[str, Any],
) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert all(OPERATION_ID_FORM.match(i) for i in ids), [
        i for i in ids if not OPERATION_ID_FORM.match(i)
    ]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    # Never FastAPI's default, which carries the path and the method.
    assert not [i for i in ids if "api_v1" in i or i.endswith(("_get_", "_post"))]


def test_each_operation_has_the_id_of_the_table_or_the_rule(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        assert operation["operationId"] == operation_id_for(method, path), (method, path)
    named = {(m, p): o["operationId"] for m, p, o in _operations(document)}
    assert named[("POST", "/api/v1/tenants")] == "tenants_create"
    assert named[("GET", "/api/v1/tenants/{tenant_id}")] == "tenants_get"
    assert named[("POST", "/api/v1/tenants/{tenant_id}/backups")] == "backups_create"
    assert named[("POST", "/api/v1/api-keys")] == "api_keys_create"
    assert named[("GET", "/api/v1/events/stream")] == "events_stream"


def test_the_table_names_only_routes_that_exist(document: dict[str, Any]) -> None:
    served = {(m, p) for m, p, _ in _operations(document)}
    assert sorted(set(OPERATION_IDS) - served) == []


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/widgets", "widgets_list"),
        ("POST", "/api/v1/widgets", "widgets_create"),
        ("GET", "/api/v1/widgets/{widget_id}", "widgets_get"),
        ("PATCH", "/api/v1/widgets/{widget_id}", "widgets_update"),
        ("PUT", "/api/v1/widgets/{widget_id}", "widgets_replace"),
        ("DELETE", "/api/v1/widgets/{widget_id}", "widgets_delete"),
        ("POST", "/api/v1/widgets/{widget_id}/actions", "widgets_perform_action"),
        ("POST", "/api/v1/widgets/{widget_id}/archive", "widgets_archive"),
        ("GET", "/api/v1/tenants/{tenant_id}/widgets", "tenants_widgets_list"),
        ("GET", "/api/v1/admin/widget-stats", "admin_widget_stats_list"),
    ],
)
def test_a_route_missing_from_the_table_gets_a_name_by_the_rule(
    method: str, path: str, expected: str
) -> None:
    assert derived_operation_id(method, path) == expected
    assert OPERATION_ID_FORM.match(expected)


def test_request_body_schemas_are_named_after_their_operation(document: dict[str, Any]) -> None:
    bodies = [name for name in document["components"]["schemas"] if name.startswith("Body_")]
    assert all("api_v1" not in name for name in bodies), bodies


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    """SDK generators (openapi-typescript, datamodel-code-generator) refuse invalid ones."""
    from openapi_spec_validator import validate

    validate(document)


def test_the_committed_document_is_the_app_s(document: dict[str, Any]) -> None:
    committed = COMMITTED.read_text() if COMMITTED.exists() else ""
    assert committed == document_text(document), (
        "sdk/openapi.json is stale (the SDKs are generated from it): run `saas openapi` "
        "and commit sdk/openapi.json"
    )


def test_every_example_is_valid_for_its_schema(document: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    checked = 0
    for method, path, operation in _operations(document):
        medias = [("request", operation.get("requestBody", {}).get("content", {}))]
        medias += [
            (status, response.get("content", {}))
            for status, response in operation["responses"].items()
            if status.startswith("2")
        ]
        for where, content in medias:
            media = content.get("application/json")
            if not media or "example" not in media:
                continue
            root = {**media["schema"], "components": document["components"]}
            errors = [e.message for e in Draft202012Validator(root).iter_errors(media["example"])]
            assert errors == [], (method, path, where)
            checked += 1
    assert checked > 150


def test_json_bodies_and_responses_have_examples(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is not None:
            assert "example" in media, (method, path)
    tenant = document["paths"]["/api/v1/tenants"]["post"]
    body = tenant["requestBody"]["content"]["application/json"]["example"]
    assert body["name"] == "Acme Corp" and body["subdomain"] == "acme"
    listed = document["paths"]["/api/v1/tenants"]["get"]["responses"]["200"]
    page = listed["content"]["application/json"]["example"]
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["results"][0]["subdomain"] == "acme"


def test_every_success_json_response_has_a_schema_and_an_example(
    document: dict[str, Any],
) -> None:
    """An SDK types an answer from its schema: ``{}`` (a route answering a ``Response`` with
    no ``response_model``) gives it nothing to type, and the docs nothing to show."""
    missing = []
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if not status.startswith("2") or media is None:
                continue
            if not media.get("schema") or "example" not in media:
                missing.append((method, path, status))
    assert missing == [], f"success JSON answers without a schema or an example: {missing}"


def test_security_follows_the_api_key_scope_table(document: dict[str, Any]) -> None:
    from saas_server.auth.scopes import PUBLIC, ROUTE_SCOPES, SESSION_ONLY

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["apiKeyAuth"] == {**schemes["apiKeyAuth"], "in": "header", "name": "X-API-Key"}
    for method, path, operation in _operations(document):
        needed = ROUTE_SCOPES[(method, path)]
        if needed == PUBLIC:
            assert "security" not in operation, (method, path)
        elif needed == SESSION_ONLY:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
        else:
            assert operation["security"] == [{"bearerAuth": []}, {"apiKeyAuth": [needed]}]


def test_each_operation_has_one_tag_its_resource_s(document: dict[str, Any]) -> None:
    declared = [t["name"] for t in document["tags"]]
    for method, path, operation in _operations(document):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, (method, path)
    paths = document["paths"]
    assert paths["/api/v1/tenants/{tenant_id}/users"]["get"]["tags"] == ["members"]
    assert paths["/api/v1/tenants/{tenant_id}/backups"]["post"]["tags"] == ["backups"]
    assert paths["/api/v1/api-keys"]["post"]["tags"] == ["api-keys"]


def test_the_served_document_does_not_depend_on_settings(app: Any) -> None:
    """The test app's settings (its database, secret, public URL) differ from the defaults
    `saas openapi` builds with: the document must not change with them."""
    assert app.openapi() == build_document()


def test_retryable_errors_document_retry_after(document: dict[str, Any]) -> None:
    """SDKs retry 429 and 503 after Retry-After: every /api operation lists both with it."""
    for method, path, operation in _operations(document):
        if not path.startswith("/api/"):
            continue
        for status in ("429", "503"):
            response = resolve_response(document, operation["responses"][status])
            assert "Retry-After" in response["headers"], (method, path, status)
    responses = document["paths"]["/api/v1/tenants"]["get"]["responses"]
    maintenance = resolve_response(document, responses["503"])
    assert "MAINTENANCE_MODE" in maintenance["content"]["application/json"]["examples"]
    assert "X-RateLimit-Remaining" in resolve_response(document, responses["429"])["headers"]


def test_errors_the_same_everywhere_are_described_once(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/tenants/{tenant_id}"]["patch"]["responses"]
    assert responses["409"] == {"$ref": "#/components/responses/Conflict"}
    assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
    # The 404 names the path's resources, so it stays on the operation.
    assert set(responses["404"]["content"]["application/json"]["examples"]) == {"TENANT_NOT_FOUND"}


def test_schema_names_are_plain_class_names(document: dict[str, Any]) -> None:
    """They become SDK class names: no generic brackets, no module path."""
    names = list(document["components"]["schemas"])
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n) and "__" not in n for n in names), names
    assert "TenantReadPage" in names and "WebhooksAttemptRead" in names
    assert document["components"]["schemas"]["TenantReadPage"]["title"] == "TenantReadPage"
    text = document_text(document)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs <= set(names), refs - set(names)
