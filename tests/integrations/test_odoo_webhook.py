"""The Odoo webhook on the emulator: each instance's secret is written into its Odoo, and
what its automations post, signed with it, is stored once and re-emitted for the tenant."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.instances.models import Instance
from saas_server.integrations import odoo as odoo_webhook
from saas_server.integrations.models import InboundEvent, OdooWebhookSecret
from tests.fixtures.auth import LoggedIn
from tests.fixtures.backups import Tenant, ready_tenant, restore, take_backup
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host

pytestmark = pytest.mark.slow

WEBHOOK = "/api/v1/odoo/webhook"


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> Tenant:
    await add_host(client, admin, odoo)
    return await ready_tenant(client, runtime, owner, odoo)


def parameter(tenant: Tenant, key: str) -> Any:
    return tenant.odoo.rpc(
        "object",
        "execute_kw",
        tenant.database,
        tenant.uid(),
        tenant.password,
        "ir.config_parameter",
        "get_param",
        [key],
    )


async def instance_of(runtime: Runtime, tenant: Tenant) -> Instance:
    async with runtime.db.sessionmaker() as session:
        found: Instance = (
            await session.execute(
                select(Instance).where(Instance.tenant_id == uuid.UUID(tenant.id))
            )
        ).scalar_one()
        return found


async def secret_of(runtime: Runtime, instance_id: uuid.UUID) -> str | None:
    async with runtime.db.sessionmaker() as session:
        return await odoo_webhook.instance_secret(session, runtime, instance_id)


def signed(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Odoo-Signature": signature}


async def test_each_instance_gets_its_secret_written_into_its_odoo(
    runtime: Runtime, tenant: Tenant
) -> None:
    instance = await instance_of(runtime, tenant)
    secret = await secret_of(runtime, instance.id)
    assert secret is not None and len(secret) >= 40
    assert parameter(tenant, "saas.webhook_secret") == secret
    assert parameter(tenant, "saas.webhook_url") == "http://testserver/api/v1/odoo/webhook"
    assert parameter(tenant, "saas.webhook_action_url") == (
        "http://testserver/api/v1/odoo/webhook?db="
        f"{tenant.database}&token={odoo_webhook.url_token(secret, tenant.database)}"
    )
    assert secret not in parameter(tenant, "saas.webhook_action_url")
    async with runtime.db.sessionmaker() as session:
        row = await session.get(OdooWebhookSecret, instance.id)
        assert row is not None and row.installed_at is not None
        # Encrypted at rest.
        assert secret not in row.secret_encrypted


async def test_signed_events_are_stored_once_and_reemitted_for_the_tenant(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    instance = await instance_of(runtime, tenant)
    secret = await secret_of(runtime, instance.id)
    assert secret is not None
    payload = {
        "database": tenant.database,
        "model": "res.partner",
        "event": "create",
        "record_id": 7,
        "data": {"name": "Azure Interior"},
    }
    body, headers = signed(secret, payload)
    accepted = await client.post(WEBHOOK, content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    repeated = await client.post(WEBHOOK, content=body, headers=headers)
    assert repeated.status_code == 200 and repeated.json()["status"] == "duplicate"
    await runtime.run_pending_jobs()

    async with runtime.db.sessionmaker() as session:
        event = (await session.execute(select(InboundEvent))).scalar_one()
        assert event.status == "processed" and str(event.tenant_id) == tenant.id
        assert event.source == "odoo" and event.event_type == "res.partner.create"
        outbox = (
            await session.execute(select(OutboxEvent).where(OutboxEvent.type.like("odoo.%")))
        ).scalar_one()
    assert outbox.type == "odoo.res.partner.create"
    assert str(outbox.tenant_id) == tenant.id
    assert outbox.data["record_id"] == 7 and outbox.data["data"] == {"name": "Azure Interior"}


def as_odoo_action_sends(model: str, record_id: int, **fields: Any) -> bytes:
    """The body of Odoo's "Send Webhook Notification" action (17.0/18.0
    ``ir.actions.server._run_action_webhook``): sorted keys, ``default=str``, no signature."""
    values = {"_model": model, "_id": record_id, "_action": "Notify the platform(#12)", **fields}
    return json.dumps(values, sort_keys=True, default=str).encode()


async def test_posts_of_odoos_own_webhook_action_are_accepted_by_url_token(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    url = parameter(tenant, "saas.webhook_action_url")
    path = url.removeprefix("http://testserver")
    plain = {"Content-Type": "application/json"}
    # A record field named "model" or "event" is data: the envelope is _model and the URL.
    body = as_odoo_action_sends("project.task", 41, name="Write specs", event="kickoff")
    accepted = await client.post(path + "&event=write", content=body, headers=plain)
    assert accepted.status_code == 202, accepted.text
    repeated = await client.post(path + "&event=write", content=body, headers=plain)
    assert repeated.json()["status"] == "duplicate"
    # Without an event in the URL: "changed".
    other = as_odoo_action_sends("res.partner", 3, name="Azure Interior")
    assert (await client.post(path, content=other, headers=plain)).status_code == 202

    instance = await instance_of(runtime, tenant)
    forged = path.replace(
        odoo_webhook.url_token(await secret_of(runtime, instance.id) or "", tenant.database),
        "0" * 64,
    )
    assert_envelope(await client.post(forged, content=other, headers=plain), 401, "UNAUTHORIZED")
    # A token is bound to its database: it does not open another tenant's name.
    odd = path.replace(f"db={tenant.database}", "db=%00x")
    assert_envelope(await client.post(odd, content=other, headers=plain), 422, "VALIDATION_ERROR")
    elsewhere = path.replace(f"db={tenant.database}", "db=someone_else")
    assert_envelope(await client.post(elsewhere, content=other, headers=plain), 401, "UNAUTHORIZED")
    await runtime.run_pending_jobs()
    async with runtime.db.sessionmaker() as session:
        types = sorted(
            (
                await session.execute(
                    select(OutboxEvent.type).where(OutboxEvent.type.like("odoo.%"))
                )
            ).scalars()
        )
        data = (
            await session.execute(
                select(OutboxEvent.data).where(OutboxEvent.type == "odoo.project.task.write")
            )
        ).scalar_one()
    assert types == ["odoo.project.task.write", "odoo.res.partner.changed"]
    assert data["database"] == tenant.database and data["record_id"] == 41
    assert data["model"] == "project.task" and data["event"] == "write"
    assert data["data"] == {"name": "Write specs", "event": "kickoff"}


async def test_forged_unknown_and_malformed_posts_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    instance = await instance_of(runtime, tenant)
    secret = await secret_of(runtime, instance.id)
    assert secret is not None
    payload = {"database": tenant.database, "model": "sale.order", "event": "write"}
    body, headers = signed("another-tenants-secret", payload)
    assert_envelope(await client.post(WEBHOOK, content=body, headers=headers), 401, "UNAUTHORIZED")
    body, headers = signed(secret, {**payload, "database": "no_such_db"})
    assert_envelope(await client.post(WEBHOOK, content=body, headers=headers), 401, "UNAUTHORIZED")
    body, headers = signed(secret, payload)
    del headers["X-Odoo-Signature"]
    assert_envelope(await client.post(WEBHOOK, content=body, headers=headers), 401, "UNAUTHORIZED")
    body, headers = signed(secret, {"database": tenant.database, "event": "write"})
    assert_envelope(
        await client.post(WEBHOOK, content=body, headers=headers), 422, "VALIDATION_ERROR"
    )
    body, headers = signed(secret, {**payload, "model": "res.partner; drop"})
    assert_envelope(
        await client.post(WEBHOOK, content=body, headers=headers), 422, "VALIDATION_ERROR"
    )
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(InboundEvent))).first() is None


async def test_an_instance_without_a_secret_gets_one_from_the_sweep(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    instance = await instance_of(runtime, tenant)
    old = await secret_of(runtime, instance.id)
    # As an instance provisioned before this feature: no secret row.
    async with runtime.db.transaction() as session:
        await session.execute(delete(OdooWebhookSecret))
    assert await odoo_webhook.tend_secrets(runtime) == 1
    await runtime.run_pending_jobs()
    new = await secret_of(runtime, instance.id)
    assert new is not None and new != old
    assert parameter(tenant, "saas.webhook_secret") == new
    # Nothing left to do: the next sweep finds every instance served.
    assert await odoo_webhook.tend_secrets(runtime) == 0
    body, headers = signed(new, {"database": tenant.database, "model": "x", "event": "y"})
    assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 202


async def test_a_copy_restored_from_a_backup_signs_with_its_own_secret(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    odoo: EmulatorProcess,
) -> None:
    original = await secret_of(runtime, (await instance_of(runtime, tenant)).id)
    backup = await take_backup(client, runtime, owner, tenant)
    target = "copy" + uuid.uuid4().hex[:8]
    done = await restore(
        client,
        runtime,
        owner,
        tenant.id,
        backup["id"],
        {"new_tenant": {"name": "The Copy", "subdomain": target}},
    )
    # Under load the restore may still wait for the copy's provisioning (it looks again
    # every 2 s): run the jobs until it is done.
    deadline = asyncio.get_running_loop().time() + 120
    while done["status"] in ("pending", "running"):
        assert asyncio.get_running_loop().time() < deadline, done
        await asyncio.sleep(0.5)
        await runtime.run_pending_jobs()
        done = (
            await client.get(
                f"/api/v1/tenants/{done['tenant_id']}/restores/{done['id']}",
                headers=owner.headers,
            )
        ).json()
    assert done["status"] == "completed", done
    await runtime.run_pending_jobs()
    copy = Tenant(id=done["tenant_id"], database=target, odoo=odoo)
    own = await secret_of(runtime, (await instance_of(runtime, copy)).id)
    assert own is not None and own != original
    # The archive carried the original's secret; the copy's own was written over it.
    assert parameter(copy, "saas.webhook_secret") == own
    assert parameter(tenant, "saas.webhook_secret") == original
