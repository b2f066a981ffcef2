"""Bad input of every kind is a 4xx in the envelope, never a 500 (issue 13 item 6).

NUL characters anywhere (body, query, path, form), pages past any list, bodies in the
wrong media type, unknown fields, bad orderings and filter values: each is refused with
the reason, by one mechanism that every endpoint shares.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from saas_server.core.pagination import Page
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.tenants import create_tenant

STRONG = "a-fine-long-passphrase"


def api_routes(app: FastAPI) -> list[APIRoute]:
    routes = (context.original_route for context in iter_route_contexts(app.routes))
    return [route for route in routes if isinstance(route, APIRoute)]


def list_routes(app: FastAPI) -> list[APIRoute]:
    """Every list endpoint of the API: a GET answering a Page; but the client portal's,
    whose caller needs a tenant with its portal on (they are walked with one in
    tests/portal/test_portal_bad_input.py)."""
    return [
        route
        for route in api_routes(app)
        if "GET" in route.methods
        and isinstance(route.response_model, type)
        and issubclass(route.response_model, Page)
        and not route.endpoint.__module__.startswith("saas_server.portal")
    ]


def list_paths(app: FastAPI, ids: dict[str, str]) -> list[str]:
    paths = [route.path.format(**ids) for route in list_routes(app)]
    assert len(paths) >= 10, paths
    return paths


# Lists only platform admins read (an owner is refused there before any parameter is read).
ADMIN_ONLY_PREFIXES = ("/api/v1/admin/", "/api/v1/integrations/", "/api/v1/security/")


def headers_for(path: str, owner: LoggedIn, admin: LoggedIn) -> dict[str, str]:
    """Who may read a list: a platform admin for the admin-only lists (an owner is refused
    there before any parameter is read), the tenant's owner for the rest."""
    return admin.headers if path.startswith(ADMIN_ONLY_PREFIXES) else owner.headers


@pytest.fixture
async def lists(app: FastAPI, client: httpx.AsyncClient, owner: LoggedIn) -> list[str]:
    tenant = await create_tenant(client, owner, "listed")
    # A webhook endpoint, for its deliveries list: a public address literal (no DNS needed),
    # subscribed to a type no test here causes, so nothing is ever sent to it.
    endpoint = await client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": "https://93.184.215.14/hook", "events": ["invoice.paid"]},
        headers=owner.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    ids = {
        "tenant_id": tenant["id"],
        "user_id": owner.user["id"],
        "endpoint_id": endpoint.json()["id"],
    }
    return list_paths(app, ids)


# -- NUL characters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nul@example.com", "password": STRONG, "full_name": "Nul\u0000Name"},
        {"email": "nul@example.com", "password": STRONG + "\u0000", "full_name": "N"},
        {"email": "nul@example.com", "password": STRONG, "first_name": "A\u0000", "last_name": "B"},
    ],
)
async def test_nul_in_a_registration_field_is_a_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/auth/register", json=body)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "NUL" in str(error["details"])


async def test_nul_in_login_json_and_form_is_a_422(client: httpx.AsyncClient) -> None:
    json_login = await client.post(
        "/api/v1/auth/login", json={"email": "a\u0000@example.com", "password": STRONG}
    )
    assert_envelope(json_login, 422, "VALIDATION_ERROR")
    form_login = await client.post(
        "/api/v1/auth/token", data={"username": "a\u0000@example.com", "password": STRONG}
    )
    assert_envelope(form_login, 422, "VALIDATION_ERROR")


async def test_nul_in_nested_text_and_json_keys_is_a_422(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    for extra in (
        {"name": "Acme\u0000"},
        {"metadata": {"note": "x\u0000y"}},
        {"metadata": {"k\u0000": 1}},
        {"metadata": {"list": ["ok", "n\u0000"]}},
        {"settings": {"timezone": "UTC\u0000"}},
        {"billing_address": "\u0000"},
    ):
        body = {"name": "Acme", "subdomain": "nulcheck", **extra}
        response = await client.post("/api/v1/tenants", json=body, headers=owner.headers)
        assert_envelope(response, 422, "VALIDATION_ERROR")
    listed = await client.get("/api/v1/tenants", headers=owner.headers)
    assert listed.json()["count"] == 0


async def test_nul_in_query_or_path_is_a_422_on_every_list(
    client: httpx.AsyncClient, owner: LoggedIn, lists: list[str]
) -> None:
    for path in lists:
        for query in ("search=a%00b", "ordering=%00", "page=1&x%00=1"):
            response = await client.get(f"{path}?{query}", headers=owner.headers)
            assert_envelope(response, 422, "VALIDATION_ERROR")
    tenant_path = await client.get("/api/v1/tenants/abc%00def", headers=owner.headers)
    assert "path" in assert_envelope(tenant_path, 422, "VALIDATION_ERROR")["details"]
    download = await client.get("/api/v1/backups/download/tok%00en")
    assert_envelope(download, 422, "VALIDATION_ERROR")


# -- pages --------------------------------------------------------------------------------


async def test_a_page_past_any_list_is_a_422_not_a_500(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn, lists: list[str]
) -> None:
    for path in lists:
        for page in ("99999999999999999999", "9223372036854775807", "2147483648"):
            response = await client.get(
                f"{path}?page={page}", headers=headers_for(path, owner, admin)
            )
            error = assert_envelope(response, 422, "VALIDATION_ERROR")
            assert "page" in error["details"], path
        last = await client.get(
            f"{path}?page=2147483647&page_size=100", headers=headers_for(path, owner, admin)
        )
        assert last.status_code == 200, (path, last.text)
        assert last.json()["results"] == []


# -- media types --------------------------------------------------------------------------


async def test_a_json_body_with_the_wrong_content_type_is_a_415_naming_it(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"email": "a@example.com", "password": "whatever-long"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await client.post(
            "/api/v1/auth/login", content=body, headers={"content-type": content_type}
        )
        error = assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert content_type in error["message"]
        assert "application/json" in error["message"]


async def test_a_json_body_without_content_type_is_a_415(client: httpx.AsyncClient) -> None:
    request = client.build_request(
        "POST", "/api/v1/auth/login", content=b'{"email": "a@example.com", "password": "x"}'
    )
    assert "content-type" not in request.headers
    response = await client.send(request)
    error = assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "no Content-Type" in error["message"]


async def test_json_with_charset_and_json_suffix_types_are_read(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"email": "nobody@example.com", "password": "whatever-long"}'
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/api/v1/auth/login", content=body, headers={"content-type": content_type}
        )
        assert_envelope(response, 401, "UNAUTHORIZED")


async def test_the_form_login_refuses_json_with_a_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"username": "a@example.com", "password": "x"}
    )
    error = assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/x-www-form-urlencoded" in error["message"]


async def test_an_optional_body_may_be_left_out_without_content_type(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    request = client.build_request("POST", "/api/v1/auth/logout", headers=owner.headers)
    assert "content-type" not in request.headers
    assert (await client.send(request)).status_code == 204


# -- unknown fields and the seeds' names --------------------------------------------------


async def test_an_unknown_body_field_is_a_422_naming_it(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "x@example.com", "password": STRONG, "full_name": "X", "is_admin": True},
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "is_admin" in error["details"]
    assert "is_admin" in error["details"]["is_admin"][0]
    tenant = await client.post(
        "/api/v1/tenants",
        json={"name": "Acme", "subdomain": "acme", "tier": "starter", "plan": "gold"},
        headers=owner.headers,
    )
    assert "plan" in assert_envelope(tenant, 422, "VALIDATION_ERROR")["details"]
    acme = await create_tenant(client, owner, "acme")
    nested = await client.post(
        f"/api/v1/tenants/{acme['id']}/backups/00000000-0000-0000-0000-000000000000/restore",
        json={"new_tenant": {"name": "Copy", "subdomain": "copy", "colour": "red"}},
        headers=owner.headers,
    )
    assert "new_tenant.colour" in assert_envelope(nested, 422, "VALIDATION_ERROR")["details"]


@pytest.mark.parametrize("settings_overrides", [{"base_domain": "saas.test"}])
async def test_every_seed_field_name_is_accepted(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    # Seed 002: register with a tenant, its domain under the platform's.
    seed_002 = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "john@example.com",
            "password": STRONG,
            "password_confirm": STRONG,
            "first_name": "John",
            "last_name": "Doe",
            "tenant_name": "My Company",
            "tenant_domain": "mycompany.saas.test",
        },
    )
    assert seed_002.status_code == 201, seed_002.text
    assert seed_002.json()["tenant"]["subdomain"] == "mycompany"
    # Seed 000: register.
    seed_000 = await client.post(
        "/api/v1/auth/register",
        json={"email": "test@example.com", "password": STRONG, "full_name": "Test User"},
    )
    assert seed_000.status_code == 201, seed_000.text
    # Seed 000 and 003: login by username; seeds 002 and 004: refresh by ``refresh``.
    login = await client.post(
        "/api/v1/auth/login", json={"username": owner.email, "password": owner.password}
    )
    assert login.status_code == 200, login.text
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text

    # Seed 002: create a tenant by ``domain``, with settings; then update it.
    seed_002_tenant = await client.post(
        "/api/v1/tenants",
        json={
            "name": "New Company",
            "domain": "newcompany.saas.test",
            "settings": {"timezone": "UTC", "language": "en"},
        },
        headers=owner.headers,
    )
    assert seed_002_tenant.status_code == 202, seed_002_tenant.text
    assert seed_002_tenant.json()["subdomain"] == "newcompany"
    assert seed_002_tenant.json()["domain"] == "newcompany.saas.test"
    tenant_id = seed_002_tenant.json()["id"]
    updated = await client.put(
        f"/api/v1/tenants/{tenant_id}",
        json={"name": "Updated Company Name", "settings": {"timezone": "America/New_York"}},
        headers=owner.headers,
    )
    assert updated.status_code == 200, updated.text

    # Seed 003: create and update a tenant with ``domain``, ``owner_id`` and the rest.
    seed_003_tenant = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Example Company",
            "domain": "example",
            "owner_id": owner.user["id"],
            "contact_email": "contact@example.com",
            "billing_address": "123 Main St, City, Country",
            "metadata": {"industry": "Technology", "size": "Medium"},
        },
        headers=owner.headers,
    )
    assert seed_003_tenant.status_code == 202, seed_003_tenant.text
    seed_003_update = await client.put(
        f"/api/v1/tenants/{seed_003_tenant.json()['id']}",
        json={
            "name": "Example Company Updated",
            "domain": "example.saas.test",
            "is_active": True,
            "contact_email": "new-contact@example.com",
            "billing_address": "456 New St, City, Country",
            "metadata": {"industry": "Software", "size": "Large"},
        },
        headers=owner.headers,
    )
    assert seed_003_update.status_code == 200, seed_003_update.text
    # The subdomain itself never changes, whichever name it is sent under.
    moved = await client.put(
        f"/api/v1/tenants/{tenant_id}", json={"domain": "other"}, headers=owner.headers
    )
    assert_envelope(moved, 400, "INVALID_SUBDOMAIN")
    # Someone else's id as owner is refused by name, not ignored.
    foreign_owner = await client.post(
        "/api/v1/tenants",
        json={"name": "Theirs", "subdomain": "theirs", "owner_id": admin.user["id"]},
        headers=owner.headers,
    )
    assert "owner_id" in assert_envelope(foreign_owner, 422, "VALIDATION_ERROR")["details"]

    # Seeds 002 and 003: create and update users (as an administrator).
    seed_002_user = await client.post(
        "/api/v1/users",
        json={
            "email": "newuser@company.com",
            "password": STRONG,
            "first_name": "New",
            "last_name": "User",
            "role": "user",
        },
        headers=admin.headers,
    )
    assert seed_002_user.status_code == 201, seed_002_user.text
    seed_003_user = await client.post(
        "/api/v1/users",
        json={
            "name": "John Doe",
            "email": "john.doe@example.com",
            "password": STRONG,
            "roles": ["user"],
            "metadata": {"department": "Engineering", "location": "Remote"},
        },
        headers=admin.headers,
    )
    assert seed_003_user.status_code == 201, seed_003_user.text
    user_id = seed_003_user.json()["id"]
    for body in (
        {"first_name": "Updated", "role": "admin"},
        {
            "name": "John Updated",
            "email": "john.updated@example.com",
            "is_active": True,
            "roles": ["user", "admin"],
            "metadata": {"department": "Management", "location": "Office"},
        },
    ):
        response = await client.put(f"/api/v1/users/{user_id}", json=body, headers=admin.headers)
        assert response.status_code == 200, response.text

    # Seed 001: an operator's action with a reason.
    action = await client.post(
        f"/api/v1/admin/tenants/{tenant_id}/actions",
        json={"action": "backup", "reason": "before the migration"},
        headers=admin.headers,
    )
    assert action.status_code != 422, action.text


async def test_a_foreign_domain_is_an_invalid_subdomain_that_says_why(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    response = await client.post(
        "/api/v1/tenants", json={"name": "Acme", "domain": "acme.com"}, headers=owner.headers
    )
    error = assert_envelope(response, 400, "INVALID_SUBDOMAIN")
    assert any("domain" in m for m in error["details"]["subdomain"])


# -- orderings and filters ----------------------------------------------------------------


async def test_an_ordering_with_two_signs_is_a_422_on_every_list(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn, lists: list[str]
) -> None:
    for path in lists:
        for ordering in ("--created_at", "-+created_at", "++created_at", "created_at,--x"):
            response = await client.get(
                path, params={"ordering": ordering}, headers=headers_for(path, owner, admin)
            )
            error = assert_envelope(response, 422, "VALIDATION_ERROR")
            assert "ordering" in error["details"], (path, ordering)


async def test_an_unknown_filter_value_is_a_422_on_every_list(
    app: FastAPI, client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn, lists: list[str]
) -> None:
    tenant = (await client.get("/api/v1/tenants", headers=owner.headers)).json()["results"][0]
    tenant_id = tenant["id"]
    endpoint = (await client.get("/api/v1/webhooks/endpoints", headers=owner.headers)).json()
    endpoint_id = endpoint["results"][0]["id"]
    checked = []
    for route in list_routes(app):
        path = route.path.format(
            tenant_id=tenant_id, user_id=owner.user["id"], endpoint_id=endpoint_id
        )
        names = {p.alias or p.name for p in route.dependant.query_params}
        for name in sorted(names & {"status", "tier", "role", "type"}):
            response = await client.get(
                path, params={name: "bogus"}, headers=headers_for(path, owner, admin)
            )
            error = assert_envelope(response, 422, "VALIDATION_ERROR")
            assert name in error["details"], (path, name)
            checked.append((route.path, name))
    # tenants: status, tier; members: role; users: role; instances: status; backups: both
    assert len(checked) >= 7, checked
