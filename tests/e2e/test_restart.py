"""A restart while work waits in the queue: the server starts and the work runs once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.crash import CrashableServe, drop_emulator_databases
from tests.fixtures.provisioning import provision_jobs
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.slow


async def test_serve_starts_while_a_provisioning_job_waits_and_runs_it_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    database_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    # Left by a server killed before its worker took the job: pending, its job queued.
    name = "r" + uuid.uuid4().hex[:10]
    created = await client.post(
        "/api/v1/tenants", json={"name": "Waiting", "subdomain": name}, headers=owner.headers
    )
    assert created.status_code == 202, created.text
    tenant_id, instance_id = created.json()["id"], created.json()["instance"]["id"]
    assert await provision_jobs(runtime, instance_id) == [("todo", 0)]

    serve = CrashableServe(database_url, tmp_path, smtp_server.port)
    try:
        # Registering the built-in emulator re-defers the waiting provisioning.
        serve.start()
        async with httpx.AsyncClient(base_url=serve.base_url, timeout=10) as live:
            deadline = asyncio.get_running_loop().time() + 120
            while True:
                tenant = (
                    await live.get(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)
                ).json()
                if tenant["status"] == "ready":
                    break
                assert asyncio.get_running_loop().time() < deadline, tenant
                await asyncio.sleep(0.3)
        assert await provision_jobs(runtime, instance_id) == [("succeeded", 1)]
    finally:
        serve.stop()
        await drop_emulator_databases(runtime, [name])
