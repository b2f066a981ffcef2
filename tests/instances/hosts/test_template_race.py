"""The first tenants of a fresh platform: the template is cloned only once it is whole.

The standby pool starts making the host's template; tenants are asked for while it is being
made, and their provisioning jobs run at once beside it. Nothing may clone the template (which
closes its connections) before its creation has finished and been recorded.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.instances.hosts import standby, templates
from saas_server.instances.hosts.models import OdooHost, StandbyDatabase
from tests.fixtures.auth import LoggedIn
from tests.fixtures.odoo import EmulatorProcess, databases
from tests.fixtures.provisioning import add_host, subdomain

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("SAAS_TEST_TEMPLATE_RACE_ROUNDS", "3"))
TENANTS = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"standby_databases_per_host": 2}


async def until_exists(odoo: EmulatorProcess, name: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while name not in databases(odoo.postgres_url):
        assert asyncio.get_running_loop().time() < deadline, f"{name} never appeared"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_tenants_asked_for_while_the_template_is_made_all_get_ready(
    round_: int,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    host = await add_host(client, admin, odoo)
    template = templates.template_name(odoo.version, uuid.UUID(host["id"]))
    # The pool job gets there first, as on a fresh `saas serve`.
    pool = asyncio.create_task(standby.tend(runtime))
    try:
        await until_exists(odoo, template)  # being created now
        tenant_ids = []
        for _ in range(TENANTS):
            created = await client.post(
                "/api/v1/tenants",
                json={"name": "Early bird", "subdomain": subdomain()},
                headers=owner.headers,
            )
            assert created.status_code == 202, created.text
            tenant_ids.append(created.json()["id"])
        # Their provisioning runs at once, concurrently, beside the pool job.
        await runtime.run_worker(wait=False, concurrency=TENANTS, listen_notify=False)
    finally:
        made = await pool
    assert made is not None

    for tenant_id in tenant_ids:
        tenant = (await client.get(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)).json()
        instance = tenant["instance"]
        assert tenant["status"] == "ready", (instance["status_reason"], instance["error"])
    # One template, whole and recorded, and the pool's standby made from it works.
    async with runtime.db.sessionmaker() as session:
        row = await session.get(OdooHost, uuid.UUID(host["id"]))
        assert row is not None and row.template_admin_password_encrypted
        standbys = list((await session.execute(select(StandbyDatabase))).scalars())
    password = templates.known_template_password(runtime, row)
    assert odoo.rpc("common", "authenticate", template, "admin", password, {})
    assert all(s.status in ("ready", "claimed") for s in standbys), [s.status for s in standbys]
