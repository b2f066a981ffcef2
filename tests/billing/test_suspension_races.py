"""A provisioning or a restore that is running when its tenant is suspended ends with the
instance stopped, not running: the suspension cannot stop an instance that is not ready
yet, so the flows' ends check the tenant (``instance_settled``), and the suspension locks
the instance's row so that a flow finishing at that very moment is seen either way.

The tenants are suspended the shortest way dunning has: a trial ends with no payment
method (docs/billing.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from saas_server.billing.renewals import run_renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.instances.flows import INSTANCE_READY
from saas_server.instances.models import Instance
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.backups import ready_tenant, take_backup
from tests.fixtures.billing import (
    TRIAL_OVER,
    TRIAL_START,
    accepts_connections,
    subscribe,
    trial_plan,
)
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host, subdomain

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"default_tenant_limit": 10}


async def states(
    client: httpx.AsyncClient, admin: LoggedIn, tenant_id: str
) -> tuple[str, str, str | None]:
    detail = (await client.get(f"/api/v1/tenants/{tenant_id}", headers=admin.headers)).json()
    return detail["status"], detail["instance"]["status"], detail["instance"]["database"]


async def new_tenant(client: httpx.AsyncClient, owner: LoggedIn, odoo: EmulatorProcess) -> str:
    """A tenant whose provisioning is queued, not yet run."""
    created = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Race Probe",
            "subdomain": subdomain(),
            "admin_email": "boss@example.com",
            "admin_password": "odoo-admin-pass-1",
            "odoo_version": odoo.version,
        },
        headers=owner.headers,
    )
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


async def test_a_restore_running_at_the_suspension_ends_with_the_instance_stopped(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    clock.set(TRIAL_START)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    backup = await take_backup(client, runtime, owner, tenant)
    await subscribe(client, owner, tenant.id, plan=await trial_plan(client, admin))
    started = await client.post(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}/restore",
        json={},
        headers=owner.headers,
    )
    assert started.status_code == 202, started.text

    clock.set(TRIAL_OVER)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    assert (await run_renewals(runtime)).suspended == 1
    # The restore holds the instance: the suspension could not stop it.
    assert (await states(client, admin, tenant.id))[:2] == ("suspended", "restoring")

    await runtime.run_pending_jobs()  # the restore runs to its end
    found = await client.get(
        f"/api/v1/tenants/{tenant.id}/restores/{started.json()['id']}", headers=owner.headers
    )
    assert found.json()["status"] == "completed", found.json()
    status, instance_status, database = await states(client, admin, tenant.id)
    assert (status, instance_status) == ("suspended", "stopped")
    assert database is not None and not accepts_connections(odoo, database)


async def test_a_provisioning_running_at_the_suspension_ends_with_the_instance_stopped(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    clock.set(TRIAL_START)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    await add_host(client, admin, odoo)
    tenant_id = await new_tenant(client, owner, odoo)
    await subscribe(client, owner, tenant_id, plan=await trial_plan(client, admin))

    clock.set(TRIAL_OVER)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    assert (await run_renewals(runtime)).suspended == 1
    assert (await states(client, admin, tenant_id))[:2] == ("suspended", "pending")

    await runtime.run_pending_jobs()  # the provisioning runs to its end
    status, instance_status, database = await states(client, admin, tenant_id)
    assert (status, instance_status) == ("suspended", "stopped")
    assert database is not None and not accepts_connections(odoo, database)


async def test_a_provisioning_finishing_as_the_tenant_is_suspended_ends_stopped(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    """The provisioning's last transaction (the instance ready, its row locked) is held
    open while the suspension runs: the suspension waits for the row, then finds the
    instance ready and stops it."""
    clock.set(TRIAL_START)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    await add_host(client, admin, odoo)
    tenant_id = await new_tenant(client, owner, odoo)
    await subscribe(client, owner, tenant_id, plan=await trial_plan(client, admin))
    clock.set(TRIAL_OVER)
    owner, admin = await login(client, owner.email), await login(client, admin.email)

    finishing, go_on = asyncio.Event(), asyncio.Event()

    async def hold(session: Any, _runtime: Runtime, instance: Instance) -> None:
        finishing.set()
        await go_on.wait()

    INSTANCE_READY.connect(hold)
    try:
        provisioning = asyncio.create_task(runtime.run_pending_jobs())
        await asyncio.wait_for(finishing.wait(), 120)
        renewing = asyncio.create_task(run_renewals(runtime))
        await until_waiting_for_a_lock(runtime)
        go_on.set()
        await asyncio.wait_for(provisioning, 120)
        report = await asyncio.wait_for(renewing, 120)
    finally:
        go_on.set()
        INSTANCE_READY.disconnect(hold)
    assert (report.suspended, report.failures) == (1, [])
    status, instance_status, database = await states(client, admin, tenant_id)
    assert (status, instance_status) == ("suspended", "stopped")
    assert database is not None and not accepts_connections(odoo, database)


async def until_waiting_for_a_lock(runtime: Runtime, timeout: float = 60.0) -> None:
    """Until a session of the test's database waits for a row lock (the suspension)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with runtime.db.engine.connect() as conn:
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the suspension never waited for the instance's row")
