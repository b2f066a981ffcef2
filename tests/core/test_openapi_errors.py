"""The OpenAPI document lists the errors each operation answers, in the envelope (issue 13 item 7).

The schemathesis run (test_api_fuzz.py) proves no operation answers a status it does not
list; these check what the document says about errors and that its examples are real.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from saas_server.core.errors import all_error_classes
from saas_server.core.openapi import ErrorResponse, resolve_response
from tests.fixtures.auth import LoggedIn

ENVELOPE_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/")
    ]


def test_every_api_operation_lists_its_errors(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        statuses = {int(s) for s in operation["responses"]}
        where = f"{method.upper()} {path}"
        assert 429 in statuses, where
        if operation.get("security"):
            assert {401, 403} <= statuses, where
        if "{" in path:
            assert 404 in statuses, where
        if method in ("post", "put", "patch", "delete"):
            assert 409 in statuses, where
        if "requestBody" in operation:
            assert {413, 415, 422} <= statuses, where


def test_credential_routes_list_401(spec: dict[str, Any]) -> None:
    for path in ("/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/refresh"):
        assert "401" in spec["paths"][path]["post"]["responses"], path


def test_every_error_is_the_envelope_with_real_examples(spec: dict[str, Any]) -> None:
    codes = {error.code for error in all_error_classes()} | {
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "VALIDATION_ERROR",
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ErrorResponse" in spec["components"]["schemas"]
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            media = resolve_response(spec, response)["content"]["application/json"]
            assert media["schema"] == {"$ref": ENVELOPE_REF}, (path, method, status)
            assert media["examples"], (path, method, status)
            for code, example in media["examples"].items():
                assert code in codes
                ErrorResponse.model_validate(example["value"])
                assert example["value"]["error"]["code"] == code


def test_not_found_examples_name_the_path_s_resources(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/api/v1/tenants/{tenant_id}/backups/{backup_id}"]["get"]
    examples = responses["responses"]["404"]["content"]["application/json"]["examples"]
    assert set(examples) == {"TENANT_NOT_FOUND", "BACKUP_NOT_FOUND"}


async def test_a_real_error_answer_matches_the_documented_schema(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    missing = await client.get(
        "/api/v1/tenants/6b69c2db-a9e4-45cf-894b-de718ab4fc9a", headers=owner.headers
    )
    assert missing.status_code == 404
    ErrorResponse.model_validate(missing.json())
    served = (await client.get("/openapi.json")).json()
    assert "ErrorResponse" in served["components"]["schemas"]
    tenant_404 = served["paths"]["/api/v1/tenants/{tenant_id}"]["get"]["responses"]["404"]
    assert "TENANT_NOT_FOUND" in tenant_404["content"]["application/json"]["examples"]
