"""Every tenant-scoped route answers 404 or 403 to an outsider, never data.

Routes are discovered from the app's OpenAPI document, so routes added later are walked too.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant

PARAM = re.compile(r"\{([^}]+)\}")


def scoped_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route that names a tenant or another user by id."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        params = set(PARAM.findall(path))
        if "tenant_id" in params or (path.startswith("/api/v1/users/") and "user_id" in params):
            routes.extend((method.upper(), path) for method in operations)
    return routes


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


async def test_outsiders_get_404_or_403_on_every_scoped_route(
    app: FastAPI, client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    victim = await verified_user(client, runtime, inbox, "victim@example.com")
    tenant: dict[str, Any] = await create_tenant(
        client, victim, "secretco", metadata={"marker": "TOP-SECRET-MARKER"}
    )
    outsider: LoggedIn = await verified_user(client, runtime, inbox, "outsider@example.com")
    await create_tenant(client, outsider, "outsiderco")

    routes = scoped_routes(app)
    # Guard against a vacuous pass: the walk must cover the tenant and member routes.
    walked_paths = {path for _, path in routes}
    assert "/api/v1/tenants/{tenant_id}" in walked_paths
    assert "/api/v1/tenants/{tenant_id}/users/{user_id}" in walked_paths
    assert len(routes) >= 12

    values = {
        "tenant_id": tenant["id"],
        "user_id": victim.user["id"],
        "id": tenant["id"],
    }
    secrets = ("TOP-SECRET-MARKER", "secretco", "victim@example.com", tenant["id"] + '"')
    for method, path in routes:
        url = fill(path, values)
        response = await client.request(method, url, json={}, headers=outsider.headers)
        assert response.status_code in (403, 404), (
            method,
            path,
            response.status_code,
            response.text,
        )
        assert response.json()["error"]["code"] in (
            "NOT_FOUND",
            "TENANT_NOT_FOUND",
            "USER_NOT_FOUND",
            "FORBIDDEN",
        )
        for secret in secrets:
            assert secret not in response.text, (method, path, secret)

    # The tenant and its owner are untouched by the walk.
    still = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=victim.headers)
    assert still.status_code == 200
    assert still.json()["status"] == tenant["status"]
    assert still.json()["member_count"] == 1

    # Control: the owner reaches the GET routes the outsider could not (those whose ids
    # this test has: a backup or restore of its own would need an Odoo host).
    for method, path in routes:
        if set(PARAM.findall(path)) - set(values):
            continue
        if method == "GET" and "{user_id}" not in path.replace("/api/v1/users/{user_id}", ""):
            response = await client.get(fill(path, values), headers=victim.headers)
            assert response.status_code == 200, (path, response.text)
