"""A tenant suspended for an unpaid invoice while it moves between hosts ends the move with
its instance stopped on the target: the suspension cannot stop an instance in a move (a move
refuses stops), so the move's end settles the instance (``instance_settled``), as a
provisioning's or a restore's end does (tests/billing/test_suspension_races.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.billing.renewals import run_renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.backups import ready_tenant
from tests.fixtures.billing import (
    TRIAL_OVER,
    TRIAL_START,
    accepts_connections,
    subscribe,
    trial_plan,
)
from tests.fixtures.moves import ask_move, read_move
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"default_tenant_limit": 10}


async def host_action(
    client: httpx.AsyncClient, admin: LoggedIn, host_id: str, action: str
) -> None:
    answer = await client.post(
        f"/api/v1/admin/odoo-hosts/{host_id}/actions",
        json={"action": action},
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text


async def test_a_move_running_at_the_suspension_ends_with_the_instance_stopped_on_the_target(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    odoo_b: EmulatorProcess,
) -> None:
    clock.set(TRIAL_START)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    await add_host(client, admin, odoo)
    target = await add_host(client, admin, odoo_b)
    await host_action(client, admin, target["id"], "drain")  # the tenant lands on the source
    tenant = await ready_tenant(client, runtime, owner, odoo)
    await host_action(client, admin, target["id"], "activate")
    await subscribe(client, owner, tenant.id, plan=await trial_plan(client, admin))
    asked = await ask_move(client, admin, tenant.id, target["id"])
    assert asked.status_code == 202, asked.text

    clock.set(TRIAL_OVER)
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    assert (await run_renewals(runtime)).suspended == 1
    detail = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=admin.headers)).json()
    # The move holds the instance: the suspension could not stop it.
    assert (detail["status"], detail["instance"]["status"]) == ("suspended", "moving")

    await runtime.run_pending_jobs()  # the move runs to its end
    move = await read_move(client, admin, asked.json()["move"]["id"])
    assert move["status"] == "completed", move
    detail = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=admin.headers)).json()
    assert (detail["status"], detail["instance"]["status"]) == ("suspended", "stopped")
    assert move["target_host_id"] == target["id"]
    database = detail["instance"]["database"]
    assert database is not None and not accepts_connections(odoo_b, database)
