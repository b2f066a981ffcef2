"""Integration providers: platform admins manage them; the secret is encrypted and never shown."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from saas_server.audit.models import AuditEntry
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.integrations import SECRET, create_provider

BASE = "/api/v1/integrations/providers"


async def test_crud_never_shows_the_secret_and_keeps_it_encrypted(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    created = await create_provider(
        client,
        admin,
        name="user-service",
        kind="user_service",
        api_base_url="https://api.userservice.example",
        webhook_url="https://webhook.userservice.example",
        allowed_ips=["10.1.2.3", "192.168.0.0/16"],
        rate_limit="100/minute",
    )
    assert "secret_key" not in created and "secret_encrypted" not in created
    assert created["allowed_ips"] == ["10.1.2.3/32", "192.168.0.0/16"]
    assert created["intake_path"] == "/api/v1/integrations/webhooks/user-service"
    assert created["is_active"] is True and created["health_status"] == "unknown"
    assert created["created_at"].endswith("Z")

    async with runtime.db.sessionmaker() as session:
        stored = (
            await session.execute(text("SELECT secret_encrypted FROM integration_providers"))
        ).scalar_one()
    assert SECRET not in stored and stored.startswith("v1.")

    listed = await client.get(BASE, headers=admin.headers)
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["results"]] == ["user-service"]
    assert listed.json()["count"] == 1

    patched = await client.patch(
        f"{BASE}/{created['id']}",
        json={"is_active": False, "secret_key": "another-secret-0123456789", "api_base_url": None},
        headers=admin.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False and patched.json()["api_base_url"] is None
    assert "secret_key" not in patched.json()

    got = await client.get(f"{BASE}/{created['id']}", headers=admin.headers)
    assert got.json()["name"] == "user-service" and got.json()["is_active"] is False

    deleted = await client.delete(f"{BASE}/{created['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert_envelope(
        await client.get(f"{BASE}/{created['id']}", headers=admin.headers),
        404,
        "PROVIDER_NOT_FOUND",
    )

    async with runtime.db.sessionmaker() as session:
        entries = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.new_values)
                .where(AuditEntry.resource_type == "integration_provider")
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert [e.action for e in entries] == [
        "integration_provider.created",
        "integration_provider.updated",
        "integration_provider.deleted",
    ]
    # The rotation is recorded, the secret itself never.
    assert "another-secret" not in str(entries) and SECRET not in str(entries)


async def test_bad_input_is_refused_clearly(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    def post(**fields: object) -> object:
        body = {"name": "ok-name", "secret_key": SECRET, **fields}
        return client.post(BASE, json=body, headers=admin.headers)

    error = assert_envelope(await post(allowed_ips=["10.0.0.0/33"]), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert "allowed_ips" in str(error["details"])
    assert_envelope(await post(name="Not A Slug"), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert_envelope(await post(name="odoo"), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert_envelope(await post(kind="crm"), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert_envelope(await post(rate_limit="lots"), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert_envelope(await post(api_base_url="ftp://x"), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert_envelope(await post(secret_key="short"), 422, "VALIDATION_ERROR")  # type: ignore[arg-type]
    assert (await post()).status_code == 201  # type: ignore[attr-defined]
    assert_envelope(await post(), 409, "CONFLICT")  # type: ignore[arg-type]


async def test_only_platform_admins_manage_providers(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn
) -> None:
    provider = await create_provider(client, admin)
    assert_envelope(await client.get(BASE, headers=owner.headers), 403, "FORBIDDEN")
    assert_envelope(
        await client.get(f"{BASE}/{provider['id']}", headers=owner.headers), 403, "FORBIDDEN"
    )
    assert_envelope(
        await client.post(BASE, json={"name": "x", "secret_key": SECRET}, headers=owner.headers),
        403,
        "FORBIDDEN",
    )
    assert_envelope(await client.get(BASE), 401, "UNAUTHORIZED")
    assert_envelope(
        await client.get(f"{BASE}/not-a-uuid", headers=admin.headers), 404, "PROVIDER_NOT_FOUND"
    )
