"""Issue 16 on a real Odoo: an automation rule of the tenant's Odoo (``base_automation``,
"Send Webhook Notification") posts a record change to the platform, which re-emits it as
``odoo.<model>.<event>``.

Runs only with SAAS_TEST_ODOO_URL, SAAS_TEST_ODOO_MASTER_PASSWORD and
SAAS_TEST_ODOO_POSTGRES_URL (docs/user-guide.md, "Testing against a real Odoo"). The
platform is served by a real uvicorn on loopback, where the Odoo server posts.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.integrations import odoo as odoo_webhook
from saas_server.integrations.models import InboundEvent, OdooWebhookSecret
from saas_server.odoo.client import DATABASE_TIMEOUT
from saas_server.odoo.driver import Credentials
from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.odoo import made_for_host
from tests.fixtures.smtp import Inbox

URL = os.environ.get("SAAS_TEST_ODOO_URL")
MASTER = os.environ.get("SAAS_TEST_ODOO_MASTER_PASSWORD", "")
POSTGRES = os.environ.get("SAAS_TEST_ODOO_POSTGRES_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (URL and POSTGRES), reason="needs a real Odoo (SAAS_TEST_ODOO_URL)"),
]

ADMIN = Credentials("owner@example.com", "real-admin-pass-1")


async def test_an_automation_rule_of_a_real_odoo_reaches_the_tenants_events(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, live_server: str
) -> None:
    assert URL is not None
    # What the tenant's Odoo is told to post to: this real server on loopback.
    runtime.settings.public_url = live_server
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, ADMIN.login)
    driver = RpcDriver(URL, MASTER, postgres_url=POSTGRES)
    version = (await driver.server_version()).major
    host = await client.post(
        "/api/v1/admin/odoo-hosts",
        json={
            "name": "real",
            "url": URL,
            "master_password": MASTER,
            "odoo_version": version,
            "capacity": 10,
            "postgres_url": POSTGRES,
        },
        headers=admin.headers,
    )
    assert host.status_code == 201, host.text
    name = "w" + uuid.uuid4().hex[:10]
    try:
        created = await client.post(
            "/api/v1/tenants",
            json={
                "name": "Hook Co",
                "subdomain": name,
                "odoo_version": version,
                "admin_password": ADMIN.password,
            },
            headers=owner.headers,
        )
        assert created.status_code == 202, created.text
        tenant_id = created.json()["id"]
        await runtime.run_pending_jobs()  # provisioning, then writing the webhook secret
        tenant = (await client.get(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)).json()
        assert tenant["status"] == "ready", tenant["instance"]
        uid = await driver.authenticate(name, ADMIN)
        assert uid

        async def call(model: str, method: str, *args: Any, **kw: Any) -> Any:
            # Installing a module takes minutes on a loaded server.
            return await driver.client.call(
                "object",
                "execute_kw",
                name,
                uid,
                ADMIN.password,
                model,
                method,
                list(args),
                kw,
                timeout=DATABASE_TIMEOUT,
            )

        # A loaded server may time the first write out: the periodic sweep writes it then.
        for _ in range(3):
            async with runtime.db.sessionmaker() as session:
                row = await session.get(OdooWebhookSecret, uuid.UUID(tenant["instance"]["id"]))
            if row is not None and row.installed_at is not None:
                break
            await odoo_webhook.tend_secrets(runtime)
            await runtime.run_pending_jobs()
        action_url = await call("ir.config_parameter", "get_param", "saas.webhook_action_url")
        assert action_url.startswith(f"{live_server}/api/v1/odoo/webhook?db={name}&token=")

        module = await call("ir.module.module", "search", [["name", "=", "base_automation"]])
        await call("ir.module.module", "button_immediate_install", module)
        partner_model = await call("ir.model", "search", [["model", "=", "res.partner"]])
        sent_fields = await call(
            "ir.model.fields",
            "search",
            [["model", "=", "res.partner"], ["name", "in", ["name", "email", "write_date"]]],
        )
        await call(
            "base.automation",
            "create",
            {
                "name": "Tell the platform",
                "model_id": partner_model[0],
                "trigger": "on_create_or_write",
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Post to the platform",
                            "model_id": partner_model[0],
                            "state": "webhook",
                            "webhook_url": action_url + "&event=create",
                            "webhook_field_ids": [(6, 0, sent_fields)],
                        },
                    )
                ],
            },
        )
        # Odoo posts while it creates the record (a 1 s timeout, no retry).
        partner_id = await call(
            "res.partner", "create", {"name": "Azure Interior", "email": "azure@example.com"}
        )

        async with runtime.db.sessionmaker() as session:
            received = (
                (await session.execute(select(InboundEvent).where(InboundEvent.source == "odoo")))
                .scalars()
                .all()
            )
        assert [event.event_type for event in received] == ["res.partner.create"]
        assert str(received[0].tenant_id) == tenant_id
        # Odoo names an automation's action after its type: "Send Webhook Notification(#12)".
        assert re.fullmatch(r".+\(#\d+\)", received[0].payload["action"])
        await runtime.run_pending_jobs()
        async with runtime.db.sessionmaker() as session:
            emitted = (
                await session.execute(
                    select(OutboxEvent).where(OutboxEvent.type == "odoo.res.partner.create")
                )
            ).scalar_one()
        assert str(emitted.tenant_id) == tenant_id
        assert emitted.data["database"] == name and emitted.data["record_id"] == partner_id
        assert emitted.data["model"] == "res.partner" and emitted.data["event"] == "create"
        sent = emitted.data["data"]
        assert sent["name"] == "Azure Interior" and sent["email"] == "azure@example.com"
        assert sent["write_date"]  # what keeps two identical changes apart
        assert sent["id"] == partner_id  # read() adds it
    finally:
        made = made_for_host(await driver.client.list_databases(), host.json()["id"])
        for leftover in (name, *made):
            if await driver.database_exists(leftover):
                await driver.drop(leftover)
        await driver.close()
