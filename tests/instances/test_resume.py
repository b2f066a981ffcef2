"""Re-deferring work that already waits (a restart, a host coming back) changes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from saas_server.core.runtime import Runtime
from saas_server.instances import service as instances
from saas_server.users.models import User
from tests.fixtures.auth import LoggedIn
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host, provision_jobs, subdomain, until_settled

pytestmark = pytest.mark.slow


async def test_resume_waiting_with_the_job_queued_succeeds_and_the_job_runs_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    created = await client.post(
        "/api/v1/tenants", json={"name": "Queued", "subdomain": subdomain()}, headers=owner.headers
    )
    assert created.status_code == 202, created.text
    instance_id = created.json()["instance"]["id"]
    # No worker has run: the instance is pending and its provisioning job waits.
    assert await provision_jobs(runtime, instance_id) == [("todo", 0)]

    # What a restart does (the emulator's registration), in a transaction doing other work.
    async with runtime.db.transaction() as session:
        assert await instances.resume_waiting(session, runtime, odoo.version) == 1
        session.add(User(email=f"{uuid.uuid4().hex[:8]}@example.com", full_name="Same tx"))
    async with runtime.db.engine.connect() as conn:
        users = await conn.execute(text("SELECT count(*) FROM users WHERE full_name = 'Same tx'"))
        assert users.scalar_one() == 1
    assert await provision_jobs(runtime, instance_id) == [("todo", 0)]

    await add_host(client, admin, odoo)  # resumes the waiting instances once more
    ready = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert ready["status"] == "ready", ready
    # One job, run once.
    assert await provision_jobs(runtime, instance_id) == [("succeeded", 1)]
