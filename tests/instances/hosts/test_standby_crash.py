"""Workers killed with SIGKILL while a standby is claimed, renamed or being prepared:
another worker finishes, with one database per tenant and no orphan."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.instances.hosts import standby
from saas_server.instances.hosts.models import StandbyDatabase, StandbyStatus
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.odoo import EmulatorProcess, databases
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox
from tests.fixtures.standby import fill
from tests.fixtures.workers import kill_inside_then_finish, worker

pytestmark = pytest.mark.slow

POOL = {"SAAS_STANDBY_DATABASES_PER_HOST": "1"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"standby_databases_per_host": 1}


async def pool_rows(runtime: Runtime) -> list[StandbyDatabase]:
    async with runtime.db.sessionmaker() as session:
        return list((await session.execute(select(StandbyDatabase))).scalars())


def spares(odoo: EmulatorProcess, host_id: str) -> set[str]:
    prefix = f"{standby.STANDBY_PREFIX}18_0_{uuid.UUID(host_id).hex[:8]}_"
    return {d for d in databases(odoo.postgres_url) if d.startswith(prefix)}


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


async def assert_no_orphan(runtime: Runtime, odoo: EmulatorProcess, host_id: str) -> None:
    """Every spare database on the host is one the pool knows; none is left claimed."""
    rows = await pool_rows(runtime)
    assert spares(odoo, host_id) <= {r.database_name for r in rows}
    assert StandbyStatus.CLAIMED.value not in {r.status for r in rows}


@pytest.mark.parametrize(
    ("fault", "reached", "renamed"),
    [
        # Claimed, not yet renamed (ensure_template does nothing with a standby).
        ("provision.ensure_template", "i.step == 'claim_standby'", False),
        # Renamed, not yet recorded nor configured.
        ("provision.create_database", "i.step == 'claim_standby'", True),
    ],
)
async def test_sigkill_with_a_claimed_standby(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    odoo: EmulatorProcess,
    database_url: str,
    tmp_path: Path,
    fault: str,
    reached: str,
    renamed: bool,
) -> None:
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    (spare,) = await pool_rows(runtime)
    name = "k" + uuid.uuid4().hex[:10]
    tenant = (
        await client.post(
            "/api/v1/tenants", json={"name": "Crash", "subdomain": name}, headers=owner.headers
        )
    ).json()

    ready = await kill_inside_then_finish(
        runtime,
        database_url,
        tmp_path,
        tenant["id"],
        fault=fault,
        reached=reached,
        extra_env=POOL,
        exists=(odoo.postgres_url, name) if renamed else None,
    )

    # The spare became the tenant's database: renamed once, not cloned again.
    assert name in databases(odoo.postgres_url)
    assert spare.database_name not in databases(odoo.postgres_url)
    password = runtime.secrets.decrypt(ready.admin_password_encrypted)
    assert password == runtime.secrets.decrypt(spare.admin_password_encrypted)
    assert odoo.rpc("common", "authenticate", name, "owner@example.com", password, {})
    await assert_no_orphan(runtime, odoo, host["id"])


async def test_sigkill_while_a_standby_is_prepared(
    client: httpx.AsyncClient,
    runtime: Runtime,
    odoo: EmulatorProcess,
    database_url: str,
    tmp_path: Path,
) -> None:
    admin = await platform_admin(client, runtime)
    host = await add_host(client, admin, odoo)
    # The first worker's pool job stops after cloning, before the password is written.
    first = worker(
        database_url,
        tmp_path / "w1",
        tmp_path / "w1.log",
        {"standby.clone": "sleep:120"},
        extra_env=POOL,
    )
    try:
        for _ in range(600):
            rows = await pool_rows(runtime)
            if rows and spares(odoo, host["id"]):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the pool job did not start")
        (half_made,) = rows
        assert half_made.status == StandbyStatus.PREPARING.value
        await asyncio.sleep(0.5)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    second = worker(database_url, tmp_path / "w2", tmp_path / "w2.log", extra_env=POOL)
    try:
        for _ in range(600):
            rows = await pool_rows(runtime)
            if [r.status for r in rows] == [StandbyStatus.READY.value]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the pool did not settle: {[r.status for r in rows]}")
    finally:
        stop(second)
    # The half-made one was finished, not duplicated nor orphaned.
    assert [r.id for r in rows] == [half_made.id]
    assert spares(odoo, host["id"]) == {half_made.database_name}
    password = runtime.secrets.decrypt(half_made.admin_password_encrypted)
    assert odoo.rpc("common", "authenticate", half_made.database_name, "admin", password, {})
