"""Every scoped route of auth/scopes.py enforces its scope, generated from the table: a key
holding every scope but the one a route needs gets 403 naming it; a key holding only that
scope does not get 403. Through a real server (the event stream answers as it streams).

The keys are a platform admin's, so the endpoints' own rules (admin only, membership) let
them through once the scope is right: any 403 left is the scope table's.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from saas_server.auth.scopes import PUBLIC, ROUTE_SCOPES, SCOPES, SESSION_ONLY
from tests.fixtures.auth import LoggedIn

SCOPED_ROUTES = sorted(
    (method, path, scope)
    for (method, path), scope in ROUTE_SCOPES.items()
    if scope not in (PUBLIC, SESSION_ONLY)
)
_PARAMETER = re.compile(r"\{([^}]+)\}")


def filled(path: str) -> str:
    """The path with each parameter a random UUID (a resource nobody has)."""
    return _PARAMETER.sub(lambda _: str(uuid.uuid4()), path)


async def call(client: httpx.AsyncClient, method: str, path: str, key: str) -> httpx.Response:
    """The route's answer, its body read unless it streams (the event stream never ends)."""
    request = client.build_request(method, filled(path), headers={"X-API-Key": key})
    response = await client.send(request, stream=True)
    try:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            await response.aread()
    finally:
        await response.aclose()
    return response


async def admin_key(client: httpx.AsyncClient, admin: LoggedIn, scopes: list[str]) -> str:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "table", "scopes": scopes}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


def test_the_walk_covers_the_scoped_routes() -> None:
    assert len(SCOPED_ROUTES) > 150
    assert {scope for _, _, scope in SCOPED_ROUTES} == set(SCOPES)


async def test_every_scoped_route_refuses_a_key_without_its_scope_and_admits_one_with_it(
    live_server: str, client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    without: dict[str, str] = {}
    only: dict[str, str] = {}
    for scope in SCOPES:
        without[scope] = await admin_key(client, admin, sorted(set(SCOPES) - {scope}))
        only[scope] = await admin_key(client, admin, [scope])
    refused_wrongly: list[Any] = []
    admitted_wrongly: list[Any] = []
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        for method, path, scope in SCOPED_ROUTES:
            lacking = await call(http, method, path, without[scope])
            error = lacking.json().get("error", {}) if lacking.status_code == 403 else {}
            if error.get("details", {}).get("required_scope") != scope:
                admitted_wrongly.append((method, path, lacking.status_code))
            holding = await call(http, method, path, only[scope])
            if holding.status_code in (401, 403):
                refused_wrongly.append((method, path, holding.status_code))
    assert not admitted_wrongly, (
        f"routes not refusing a key without their scope: {admitted_wrongly}"
    )
    assert not refused_wrongly, f"routes refusing a key holding their scope: {refused_wrongly}"


@pytest.mark.parametrize("path", ["/health/detailed", "/metrics"])
async def test_monitoring_routes_take_an_admins_key_and_refuse_others(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn, path: str
) -> None:
    key = await admin_key(client, admin, ["admin:read"])
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        response = await client.get(path, headers=headers)
        assert response.status_code in (200, 503), response.text
    owners = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["admin:read"]}, headers=owner.headers
    )
    refused = await client.get(path, headers={"X-API-Key": owners.json()["key"]})
    assert refused.status_code == 403, refused.text
    unknown = await client.get(path, headers={"X-API-Key": "saas_live_nothing"})
    assert unknown.status_code == 401, unknown.text
