"""A worker killed with SIGKILL in the middle of provisioning: another one finishes the job."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, platform_admin, verified_user
from tests.fixtures.odoo import EmulatorProcess, databases
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox
from tests.fixtures.workers import kill_inside_then_finish

pytestmark = pytest.mark.slow


async def test_sigkill_mid_provisioning_then_another_worker_finishes(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    odoo: EmulatorProcess,
    database_url: str,
    tmp_path: Path,
) -> None:
    admin: LoggedIn = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    await add_host(client, admin, odoo)
    before = databases(odoo.postgres_url)
    name = "k" + uuid.uuid4().hex[:10]
    tenant = (
        await client.post(
            "/api/v1/tenants", json={"name": "Crash", "subdomain": name}, headers=owner.headers
        )
    ).json()

    # The first worker stops for a long time once the database exists, before configure
    # (and before create_database is even recorded: the rerun must find the database).
    # No standby pool: this is the cloning path
    # (tests/instances/hosts/test_standby_crash.py: the pool).
    no_pool = {"SAAS_STANDBY_DATABASES_PER_HOST": "0"}
    ready = await kill_inside_then_finish(
        runtime,
        database_url,
        tmp_path,
        tenant["id"],
        fault="provision.create_database",
        reached="i.step == 'ensure_template'",
        extra_env=no_pool,
        exists=(odoo.postgres_url, name),
    )
    assert ready.step == "verify"
    # Other suites may share this PostgreSQL server: look at what this tenant could have made.
    created = {
        d for d in databases(odoo.postgres_url) - before if d.startswith((name, "saas_template_"))
    }
    # The tenant's database and the host's template: nothing duplicated, nothing orphaned.
    assert name in created
    assert {d for d in created if not d.startswith("saas_template_")} == {name}
