"""Archives cross between the platform and Odoo's own backup and restore routes.

Always against the emulator; also against a real Odoo server when SAAS_TEST_ODOO_URL,
SAAS_TEST_ODOO_MASTER_PASSWORD and SAAS_TEST_ODOO_POSTGRES_URL name one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from saas_server.backups.imports import import_archive
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, platform_admin, verified_user
from tests.fixtures.backups import Tenant, download, ready_tenant, restore, take_backup
from tests.fixtures.odoo import made_for_host, running_emulator
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow

REAL_URL = os.environ.get("SAAS_TEST_ODOO_URL")
REAL_MASTER = os.environ.get("SAAS_TEST_ODOO_MASTER_PASSWORD", "")
REAL_POSTGRES = os.environ.get("SAAS_TEST_ODOO_POSTGRES_URL")


@dataclass
class OdooServer:
    """What the tests need of an Odoo server: its URL, master password, and raw JSON-RPC."""

    url: str
    master_password: str
    postgres_url: str | None
    version: str

    def rpc(self, service: str, method: str, *args: Any) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": list(args)},
        }
        answer = httpx.post(self.url + "/jsonrpc", json=body, timeout=300).json()
        if "error" in answer:
            raise AssertionError(answer["error"])
        return answer.get("result")

    def web_backup(self, database: str) -> bytes:
        response = httpx.post(
            self.url + "/web/database/backup",
            data={"master_pwd": self.master_password, "name": database, "backup_format": "zip"},
            timeout=300,
        )
        assert response.status_code == 200, response.text[:500]
        assert response.headers["content-type"].startswith("application/octet-stream")
        return response.content

    def web_restore(self, database: str, archive: bytes) -> None:
        response = httpx.post(
            self.url + "/web/database/restore",
            data={"master_pwd": self.master_password, "name": database, "copy": "true"},
            files={"backup_file": ("backup.zip", archive, "application/zip")},
            timeout=600,
        )
        assert response.status_code in (301, 302, 303), response.text[:500]


@pytest.fixture(params=["emulator", "real"])
def server(
    request: pytest.FixtureRequest, odoo_pg_server: str, tmp_path: Path
) -> Iterator[OdooServer]:
    if request.param == "real":
        if not (REAL_URL and REAL_POSTGRES):
            pytest.skip("needs a real Odoo (SAAS_TEST_ODOO_URL)")
        version = OdooServer(REAL_URL, REAL_MASTER, REAL_POSTGRES, "").rpc("common", "version")[
            "server_serie"
        ]
        yield OdooServer(REAL_URL, REAL_MASTER, REAL_POSTGRES, version)
        return
    with running_emulator(odoo_pg_server, tmp_path / "odoo") as emulator:
        yield OdooServer(
            emulator.url, emulator.master_password, emulator.postgres_url, emulator.version
        )


async def test_archives_cross_between_the_platform_and_odoo(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, server: OdooServer, tmp_path: Path
) -> None:
    admin: LoggedIn = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    host = await client.post(
        "/api/v1/admin/odoo-hosts",
        json={
            "name": "odoo-" + uuid.uuid4().hex[:6],
            "url": server.url,
            "master_password": server.master_password,
            "odoo_version": server.version,
            "capacity": 20,
            "postgres_url": server.postgres_url,
        },
        headers=admin.headers,
    )
    assert host.status_code == 201, host.text
    tenant: Tenant = await ready_tenant(client, runtime, owner, server)  # type: ignore[arg-type]
    copy_name = "x" + uuid.uuid4().hex[:10]
    try:
        tenant.call("res.partner", "create", {"name": "Probe Exported"})
        tenant.add_file("probe-a.txt", b"made before the export")

        # 1. An archive made by Odoo's own backup route restores through the platform.
        exported = tmp_path / "odoo-made.zip"
        exported.write_bytes(server.web_backup(tenant.database))
        tenant.call("res.partner", "create", {"name": "Probe Later"})
        imported = await import_archive(
            runtime, uuid.UUID(tenant.id), exported, tenant.login, tenant.password
        )
        assert imported.status == "completed" and imported.source == "upload"
        done = await restore(client, runtime, owner, tenant.id, str(imported.id))
        assert done["status"] == "completed", done
        assert tenant.partner_names() == {"Probe Exported"}
        assert tenant.files() == {"probe-a.txt": b"made before the export"}

        # 2. A platform backup, change, restore cycle.
        tenant.add_file("probe-b.txt", b"second file")
        backup = await take_backup(client, runtime, owner, tenant)
        tenant.call("res.partner", "create", {"name": "Probe Unwanted"})
        done = await restore(client, runtime, owner, tenant.id, backup["id"])
        assert done["status"] == "completed", done
        assert tenant.partner_names() == {"Probe Exported"}
        assert set(tenant.files()) == {"probe-a.txt", "probe-b.txt"}

        # 3. A platform backup restores through Odoo's own restore route.
        server.web_restore(copy_name, await download(client, backup))
        twin = Tenant(id="-", database=copy_name, odoo=server)  # type: ignore[arg-type]
        assert twin.partner_names() == {"Probe Exported"}
        assert twin.files() == {
            "probe-a.txt": b"made before the export",
            "probe-b.txt": b"second file",
        }
    finally:
        made = made_for_host(server.rpc("db", "list"), host.json()["id"])
        for name in (copy_name, tenant.database, *made):
            if name in server.rpc("db", "list"):
                server.rpc("db", "drop", server.master_password, name)
