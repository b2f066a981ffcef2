"""A tenant on the Odoo emulator with the client portal on, and its Odoo's data: two client
companies (each a portal user's), projects, tasks, stages, invoices and blog posts."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.instances.models import Instance
from saas_server.integrations import odoo as odoo_webhook
from tests.fixtures.auth import LoggedIn
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host

PORTAL_PASSWORD = "portal-secret-1"


@dataclass
class Client:
    company: int
    contact: int
    login: str
    projects: list[int]
    tasks: list[int]
    invoices: list[int]


@dataclass
class PortalTenant:
    tenant: Tenant
    subdomain: str
    owner: LoggedIn
    stages: dict[str, int]
    alpha: Client
    beta: Client

    def call(self, model: str, method: str, *args: Any, **kw: Any) -> Any:
        return self.tenant.call(model, method, *args, **kw)


def _client(tenant: Tenant, name: str, stages: dict[str, int], *, tasks: int = 2) -> Client:
    company = tenant.call("res.partner", "create", {"name": f"{name} Ltd", "is_company": True})
    login = f"{name.lower()}@client.example"
    contact = tenant.call(
        "res.partner", "create", {"name": f"{name} Contact", "parent_id": company, "email": login}
    )
    [portal_group] = tenant.call("res.groups", "search", [("name", "=", "Portal")])
    tenant.call(
        "res.users",
        "create",
        {
            "login": login,
            "partner_id": contact,
            "password": PORTAL_PASSWORD,
            "groups_id": [(6, 0, [portal_group])],
        },
    )
    project = tenant.call(
        "project.project",
        "create",
        {
            "name": f"{name} website",
            "partner_id": company,
            "date": "2027-06-30",
            "type_ids": [(6, 0, list(stages.values()))],
        },
    )
    task_ids = [
        tenant.call(
            "project.task",
            "create",
            {
                "name": f"{name} task {i}",
                "project_id": project,
                "date_deadline": "2027-01-15 12:00:00",
            },
        )
        for i in range(tasks)
    ]
    invoice = tenant.call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": contact,
            "invoice_date": "2026-11-01",
            "invoice_date_due": "2026-11-30",
            "invoice_line_ids": [(0, 0, {"name": "Design", "quantity": 1, "price_unit": 1200.0})],
        },
    )
    tenant.call("account.move", "action_post", [invoice])
    return Client(company, contact, login, [project], task_ids, [invoice])


async def enable_portal(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, tenant_id: str
) -> dict[str, Any]:
    response = await client.post(f"/api/v1/tenants/{tenant_id}/portal", headers=owner.headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "preparing"
    await runtime.run_pending_jobs()
    answer = await client.get(f"/api/v1/tenants/{tenant_id}/portal", headers=owner.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
async def portal(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> PortalTenant:
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    shown = await enable_portal(client, runtime, owner, tenant.id)
    assert shown["status"] == "enabled", shown
    stages = {
        name: tenant.call(
            "project.task.type", "create", {"name": name, "sequence": seq, "fold": fold}
        )
        for name, seq, fold in (("To Do", 1, False), ("Review", 5, False), ("Done", 9, True))
    }
    alpha = _client(tenant, "Alpha", stages, tasks=3)
    beta = _client(tenant, "Beta", stages, tasks=2)
    blog = tenant.call("blog.blog", "create", {"name": "News"})
    tenant.call(
        "blog.post",
        "create",
        {"name": "We launched", "blog_id": blog, "content": "<p>Hello</p>", "is_published": True},
    )
    tenant.call(
        "blog.post", "create", {"name": "Draft idea", "blog_id": blog, "is_published": False}
    )
    sync = await client.post(
        "/api/v1/odoo/sync", params={"tenant_id": tenant.id}, headers=owner.headers
    )
    assert sync.status_code == 202, sync.text
    await runtime.run_pending_jobs()
    details = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    return PortalTenant(tenant, details["subdomain"], owner, stages, alpha, beta)


async def portal_login(
    client: httpx.AsyncClient, portal: PortalTenant, who: Client
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login",
        json={"tenant": portal.subdomain, "email": who.login, "password": PORTAL_PASSWORD},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bearer(login: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {login['access_token']}"}


async def post_odoo_webhook(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant, payload: dict[str, Any]
) -> None:
    async with runtime.db.sessionmaker() as session:
        instance = (
            await session.execute(
                select(Instance).where(Instance.tenant_id == uuid.UUID(portal.tenant.id))
            )
        ).scalar_one()
        secret = await odoo_webhook.instance_secret(session, runtime, instance.id)
    assert secret is not None
    body = json.dumps({"database": portal.tenant.database, **payload}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = await client.post(
        "/api/v1/odoo/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Odoo-Signature": signature},
    )
    assert response.status_code == 202, response.text
