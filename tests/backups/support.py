"""A provisioned tenant on an emulator host, and Odoo-side helpers to read and change it."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from saas_platform.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.odoo import EmulatorProcess
from tests.instances.test_provisioning import subdomain, until_settled

ADMIN_LOGIN = "boss@example.com"
ADMIN_PASSWORD = "odoo-admin-pass-1"


@dataclass
class Tenant:
    id: str
    database: str
    odoo: EmulatorProcess
    login: str = ADMIN_LOGIN
    password: str = ADMIN_PASSWORD

    def uid(self) -> int:
        uid = self.odoo.rpc("common", "authenticate", self.database, self.login, self.password, {})
        assert isinstance(uid, int) and uid > 0, uid
        return uid

    def call(self, model: str, method: str, *args: Any, **kw: Any) -> Any:
        return self.odoo.rpc(
            "object",
            "execute_kw",
            self.database,
            self.uid(),
            self.password,
            model,
            method,
            list(args),
            kw,
        )

    def partner_names(self) -> set[str]:
        rows = self.call(
            "res.partner", "search_read", [["name", "=like", "Probe %"]], fields=["name"]
        )
        return {row["name"] for row in rows}

    def add_file(self, name: str, content: bytes) -> int:
        return int(
            self.call(
                "ir.attachment",
                "create",
                {"name": name, "datas": base64.b64encode(content).decode(), "type": "binary"},
            )
        )

    def files(self) -> dict[str, bytes]:
        rows = self.call(
            "ir.attachment", "search_read", [["name", "like", "probe-"]], fields=["name", "datas"]
        )
        return {row["name"]: base64.b64decode(row["datas"]) for row in rows}


async def ready_tenant(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, odoo: EmulatorProcess
) -> Tenant:
    name = subdomain()
    created = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Backup Probe",
            "subdomain": name,
            "admin_email": ADMIN_LOGIN,
            "admin_password": ADMIN_PASSWORD,
            "odoo_version": odoo.version,
        },
        headers=owner.headers,
    )
    assert created.status_code == 202, created.text
    tenant = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert tenant["status"] == "ready", tenant
    return Tenant(id=tenant["id"], database=tenant["instance"]["database"], odoo=odoo)


async def take_backup(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, tenant: Tenant
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/tenants/{tenant.id}/backups", json={"reason": "test"}, headers=owner.headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["estimated_completion"]
    await runtime.run_pending_jobs()
    found = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups/{response.json()['id']}", headers=owner.headers
    )
    assert found.status_code == 200, found.text
    backup: dict[str, Any] = found.json()
    assert backup["status"] == "completed", backup
    return backup


async def restore(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant_id: str,
    backup_id: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/tenants/{tenant_id}/backups/{backup_id}/restore",
        json=body or {},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] == "pending"
    await runtime.run_pending_jobs()
    target = started["tenant_id"]
    found = await client.get(
        f"/api/v1/tenants/{target}/restores/{started['id']}", headers=owner.headers
    )
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


async def download(client: httpx.AsyncClient, backup: dict[str, Any]) -> bytes:
    url = backup["download_url"]
    assert url
    if url.startswith("http://testserver/"):  # the platform's own link: through the app
        response = await client.get(url.removeprefix("http://testserver"))
    else:
        async with httpx.AsyncClient() as outside:
            response = await outside.get(url)
    assert response.status_code == 200, response.text
    return response.content


def unique() -> str:
    return uuid.uuid4().hex[:8]
