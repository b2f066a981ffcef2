"""The endpoints API: secret shown once and encrypted at rest, validation, the SSRF guard at
creation, who may subscribe to what, and the visibility rule applied at fan-out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.audit.models import AuditEntry
from saas_server.core.runtime import Runtime
from saas_server.webhooks import delivery as webhook_delivery
from saas_server.webhooks.models import WebhookEndpoint
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant
from tests.fixtures.webhook_receiver import Receiver, running_receiver

ENDPOINTS = "/api/v1/webhooks/endpoints"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    # The SSRF test runs with the guard on, as in production; the others reach loopback.
    return {"webhooks_allow_private": "ssrf" not in request.node.name}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


async def test_create_shows_the_secret_once_and_keeps_it_encrypted(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, receiver: Receiver
) -> None:
    created = await client.post(
        ENDPOINTS,
        json={
            "url": receiver.url,
            "events": ["tenant.ready", "backup.completed"],
            "description": "ci",
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert body["events"] == ["tenant.ready", "backup.completed"]
    assert body["status"] == "active"

    read = await client.get(f"{ENDPOINTS}/{body['id']}", headers=owner.headers)
    assert read.status_code == 200
    assert "secret" not in read.json()
    listed = await client.get(ENDPOINTS, headers=owner.headers)
    assert listed.json()["count"] == 1
    assert secret not in listed.text

    async with runtime.db.sessionmaker() as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(body["id"]))
        assert row is not None
        assert secret not in row.secret_encrypted
        assert secret.removeprefix("whsec_") not in row.secret_encrypted
        audited = (
            (
                await session.execute(
                    select(AuditEntry.action).where(AuditEntry.resource_id == body["id"])
                )
            )
            .scalars()
            .all()
        )
    assert "webhook_endpoint.created" in audited

    patched = await client.patch(
        f"{ENDPOINTS}/{body['id']}",
        json={"events": ["*"], "status": "disabled"},
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == ["*"] and patched.json()["status"] == "disabled"

    # The list filters by status: the disabled endpoint, beside an active one.
    other = await client.post(
        ENDPOINTS, json={"url": receiver.url, "events": ["*"]}, headers=owner.headers
    )
    assert other.status_code == 201, other.text
    for wanted, ids in (
        ("disabled", [body["id"]]),
        ("active", [other.json()["id"]]),
    ):
        filtered = await client.get(ENDPOINTS, params={"status": wanted}, headers=owner.headers)
        assert filtered.status_code == 200, filtered.text
        assert [e["id"] for e in filtered.json()["results"]] == ids, wanted
    assert (await client.get(ENDPOINTS, headers=owner.headers)).json()["count"] == 2
    assert_envelope(
        await client.get(ENDPOINTS, params={"status": "paused"}, headers=owner.headers),
        422,
        "VALIDATION_ERROR",
    )

    deleted = await client.delete(f"{ENDPOINTS}/{body['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"{ENDPOINTS}/{body['id']}", headers=owner.headers)
    assert_envelope(gone, 404, "WEBHOOK_ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize(
    "events",
    [["tenant.exploded"], [], ["*", "tenant.ready"], "tenant.ready"],
)
async def test_unknown_or_malformed_event_types_are_422(
    client: httpx.AsyncClient, owner: LoggedIn, receiver: Receiver, events: Any
) -> None:
    response = await client.post(
        ENDPOINTS, json={"url": receiver.url, "events": events}, headers=owner.headers
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "not a url",
    ],
)
async def test_ssrf_guard_refuses_at_creation(
    client: httpx.AsyncClient, owner: LoggedIn, url: str
) -> None:
    response = await client.post(
        ENDPOINTS, json={"url": url, "events": ["*"]}, headers=owner.headers
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "url" in error["details"]


async def test_who_may_subscribe_to_a_tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    inbox: Inbox,
    receiver: Receiver,
) -> None:
    tenant = await create_tenant(client, owner, "subscribed")
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    member = await verified_user(client, runtime, inbox, "member@example.com")
    added = await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"user_id": member.user["id"], "role": "member"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    body = {"url": receiver.url, "events": ["*"], "tenant_id": tenant["id"]}

    assert_envelope(
        await client.post(ENDPOINTS, json=body, headers=stranger.headers), 404, "TENANT_NOT_FOUND"
    )
    assert_envelope(
        await client.post(ENDPOINTS, json=body, headers=member.headers), 403, "FORBIDDEN"
    )
    mine = await client.post(ENDPOINTS, json=body, headers=owner.headers)
    assert mine.status_code == 201
    assert (await client.post(ENDPOINTS, json=body, headers=admin.headers)).status_code == 201

    # Another user's endpoint is invisible: 404, not 403.
    endpoint_id = mine.json()["id"]
    for path in ("", "/deliveries"):
        assert_envelope(
            await client.get(f"{ENDPOINTS}/{endpoint_id}{path}", headers=stranger.headers),
            404,
            "WEBHOOK_ENDPOINT_NOT_FOUND",
        )
    assert_envelope(
        await client.delete(f"{ENDPOINTS}/{endpoint_id}", headers=stranger.headers),
        404,
        "WEBHOOK_ENDPOINT_NOT_FOUND",
    )
    assert (await client.get(ENDPOINTS, headers=stranger.headers)).json()["count"] == 0


async def test_an_endpoint_receives_only_what_its_owner_may_read(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    inbox: Inbox,
) -> None:
    """Two users with account-wide ("*", no tenant) endpoints and an admin's: each gets its
    own tenant's and account's events; the admin gets everything."""
    other = await verified_user(client, runtime, inbox, "other@example.com")
    with running_receiver() as mine, running_receiver() as theirs, running_receiver() as admins:
        for user, receiver in ((owner, mine), (other, theirs), (admin, admins)):
            response = await client.post(
                ENDPOINTS, json={"url": receiver.url, "events": ["*"]}, headers=user.headers
            )
            assert response.status_code == 201, response.text
        await create_tenant(client, owner, "ownersco")
        await create_tenant(client, other, "othersco")
        updated = await client.patch(
            "/api/v1/auth/profile", json={"full_name": "Renamed Owner"}, headers=owner.headers
        )
        assert updated.status_code == 200, updated.text
        await webhook_delivery.sweep(runtime)
        await runtime.run_pending_jobs()

        def seen(receiver: Receiver) -> list[tuple[str, str]]:
            bodies = [json.loads(r.body) for r in receiver.received]
            return sorted(
                (b["type"], b["data"].get("subdomain") or b["data"].get("email") or "")
                for b in bodies
            )

    assert ("tenant.created", "ownersco") in seen(mine)
    assert ("user.updated", owner.email) in seen(mine)
    assert all(name != "othersco" and name != other.email for _, name in seen(mine))
    assert ("tenant.created", "othersco") in seen(theirs)
    assert all(name != "ownersco" and name != owner.email for _, name in seen(theirs))
    assert {("tenant.created", "ownersco"), ("tenant.created", "othersco")} <= set(seen(admins))
    assert ("user.updated", owner.email) in seen(admins)
