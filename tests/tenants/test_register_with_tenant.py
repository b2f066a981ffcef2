"""Seed 002: registering with tenant_name and subdomain creates the tenant too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import DEFAULT_PASSWORD, login, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


def _body(email: str, subdomain: str) -> dict[str, Any]:
    return {
        "email": email,
        "password": DEFAULT_PASSWORD,
        "password_confirm": DEFAULT_PASSWORD,
        "first_name": "Jo",
        "last_name": "Founder",
        "tenant_name": "Founder Co",
        "subdomain": subdomain,
    }


async def test_tenant_is_created_when_the_address_is_verified(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    registered = await client.post("/api/v1/auth/register", json=_body("jo@example.com", "founder"))
    assert registered.status_code == 201, registered.text
    assert registered.json()["tenant"] == {
        "id": None,
        "name": "Founder Co",
        "subdomain": "founder",
        "status": "pending",
    }
    session = await login(client, "jo@example.com")
    assert (await client.get("/api/v1/tenants", headers=session.headers)).json()["count"] == 0

    await runtime.run_pending_jobs()
    token = (await inbox.wait_for("jo@example.com")).token()
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    tenant = verified.json()["tenant"]
    assert tenant["subdomain"] == "founder" and tenant["id"]

    listed = (await client.get("/api/v1/tenants", headers=session.headers)).json()["results"]
    assert [(t["id"], t["owner_id"]) for t in listed] == [(tenant["id"], session.user["id"])]


async def test_bad_subdomain_creates_nothing(client: httpx.AsyncClient) -> None:
    refused = await client.post("/api/v1/auth/register", json=_body("jo@example.com", "www"))
    assert_envelope(refused, 400, "INVALID_SUBDOMAIN")
    failed_login = await client.post(
        "/api/v1/auth/login", json={"email": "jo@example.com", "password": DEFAULT_PASSWORD}
    )
    assert failed_login.status_code == 401
    ok = await client.post("/api/v1/auth/register", json=_body("jo@example.com", "jo-co"))
    assert ok.status_code == 201


async def test_tenant_name_without_subdomain_is_invalid(client: httpx.AsyncClient) -> None:
    body = _body("jo@example.com", "x")
    del body["subdomain"]
    assert_envelope(await client.post("/api/v1/auth/register", json=body), 422, "VALIDATION_ERROR")


async def test_subdomain_taken_before_verification_still_verifies(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    await client.post("/api/v1/auth/register", json=_body("slow@example.com", "contested"))
    fast = await verified_user(client, runtime, inbox, "fast@example.com")
    await create_tenant(client, fast, "contested")
    await runtime.run_pending_jobs()
    token = (await inbox.wait_for("slow@example.com")).token()
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["tenant"] is None
    assert verified.json()["user"]["email_verified"] is True


@pytest.mark.parametrize("settings_overrides", [{"require_email_verification": False}])
async def test_without_verification_the_tenant_is_created_at_once(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    registered = await client.post(
        "/api/v1/auth/register", json=_body("now@example.com", "right-now")
    )
    assert registered.status_code == 201
    assert registered.json()["email_verified"] is True
    tenant = registered.json()["tenant"]
    assert tenant["status"] == "provisioning" and tenant["id"]
