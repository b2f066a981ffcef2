"""A worker killed with SIGKILL in the middle of provisioning: another one finishes the job."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from saas_platform.core.runtime import Runtime
from saas_platform.instances.models import Instance
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.auth import LoggedIn, platform_admin, verified_user
from tests.fixtures.odoo import SAAS, EmulatorProcess, databases
from tests.fixtures.smtp import Inbox
from tests.instances.test_provisioning import add_host

pytestmark = pytest.mark.slow


def worker(
    database_url: str,
    data_dir: Path,
    log: Path,
    faults: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")} | {
        "SAAS_ENV": "test",
        "SAAS_DATABASE_URL": database_url,
        "SAAS_SECRET_KEY": TEST_SECRET_KEY,
        "SAAS_DATA_DIR": str(data_dir),
        "SAAS_WORKER_HEARTBEAT_SECONDS": "0.5",
        "SAAS_STALLED_WORKER_SECONDS": "2",
        "SAAS_LOG_LEVEL": "INFO",
        "SAAS_LOG_FORMAT": "text",
        "SAAS_FAULTS": json.dumps(faults or {}),
        **(extra_env or {}),
    }
    with open(log, "ab") as out:
        return subprocess.Popen([SAAS, "worker"], env=env, stdout=out, stderr=out)


async def instance_of(runtime: Runtime, tenant_id: str) -> Instance:
    async with runtime.db.sessionmaker() as session:
        found = (
            await session.execute(
                select(Instance).where(Instance.tenant_id == uuid.UUID(tenant_id))
            )
        ).scalar_one()
        return found


async def wait_for(
    runtime: Runtime, tenant_id: str, condition: str, timeout: float = 60
) -> Instance:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        instance = await instance_of(runtime, tenant_id)
        if eval(condition, {}, {"i": instance}):
            return instance
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{condition} not reached: {instance.status} / {instance.step}")
        await asyncio.sleep(0.1)


async def wait_for_database(postgres_url: str, name: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while name not in databases(postgres_url):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the database {name} did not appear")
        await asyncio.sleep(0.1)


async def kill_inside_then_finish(
    runtime: Runtime,
    database_url: str,
    tmp_path: Path,
    tenant_id: str,
    *,
    fault: str,
    reached: str,
    extra_env: dict[str, str],
    exists: tuple[str, str] | None = None,
) -> Instance:
    """A worker held at the fault point ``fault`` (it sleeps there, after the step's work
    and before its record) is killed with SIGKILL once ``reached`` holds and, with
    ``exists`` (the host's PostgreSQL URL, a database name), once that database exists; a
    second worker then finishes the job. Returns the instance when it is ready."""
    first = worker(
        database_url, tmp_path / "w1", tmp_path / "w1.log", {fault: "sleep:120"}, extra_env
    )
    try:
        stuck = await wait_for(runtime, tenant_id, reached)
        assert stuck.status == "provisioning"
        if exists is not None:
            await wait_for_database(*exists)
        await asyncio.sleep(0.5)  # well inside the pause
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second = worker(database_url, tmp_path / "w2", tmp_path / "w2.log", extra_env=extra_env)
    try:
        return await wait_for(runtime, tenant_id, "i.status == 'ready'")
    finally:
        second.terminate()
        second.wait(timeout=60)


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
