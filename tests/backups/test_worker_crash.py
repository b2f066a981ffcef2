"""SIGKILL of the worker during a backup: nothing half-written is ever marked completed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from saas_server.backups.models import Backup
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.backups import ready_tenant
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox
from tests.fixtures.workers import worker

pytestmark = pytest.mark.slow


async def backup_row(runtime: Runtime, backup_id: str) -> Backup:
    async with runtime.db.sessionmaker() as session:
        found = await session.get(Backup, uuid.UUID(backup_id))
        assert found is not None
        return found


async def wait_status(runtime: Runtime, backup_id: str, status: str, timeout: float = 60) -> Backup:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await backup_row(runtime, backup_id)
        if row.status == status:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"backup stayed {row.status}, never {status}")
        await asyncio.sleep(0.1)


async def test_sigkill_during_a_backup(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    odoo: EmulatorProcess,
    database_url: str,
    tmp_path: Path,
) -> None:
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    tenant.add_file("probe-a.txt", os.urandom(200_000))
    backups_dir = runtime.settings.backup_local_dir or runtime.settings.data_dir / "backups"

    response = await client.post(f"/api/v1/tenants/{tenant.id}/backups", headers=owner.headers)
    assert response.status_code == 202
    backup_id = response.json()["id"]
    # The whole archive has streamed, but the worker dies before it is complete in storage.
    shared = {"SAAS_BACKUP_LOCAL_DIR": str(backups_dir)}
    first = worker(
        database_url, tmp_path / "w1", tmp_path / "w1.log", {"backup.dump": "sleep:120"}, shared
    )
    try:
        await wait_status(runtime, backup_id, "running")
        await asyncio.sleep(2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    row = await backup_row(runtime, backup_id)
    assert row.status == "running"
    assert row.sha256 is None
    assert not await runtime.backup_storage.exists(row.storage_key)
    assert await runtime.backup_storage.keys() == []

    # Another worker notices the dead one and takes the backup again, whole.
    second = worker(database_url, tmp_path / "w2", tmp_path / "w2.log", {}, shared)
    try:
        done = await wait_status(runtime, backup_id, "completed")
    finally:
        second.terminate()
        second.wait(timeout=30)
    path = backups_dir / done.storage_key
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == done.sha256
    assert len(data) == done.size_bytes
    with zipfile.ZipFile(path) as zipped:
        assert zipped.testzip() is None
    # No partial left over: every file there is a completed backup's (the second worker's
    # schedule may also have taken the new tenant's first daily backup meanwhile).
    async with runtime.db.sessionmaker() as session:
        completed = set(
            (
                await session.execute(
                    select(Backup.storage_key).where(
                        Backup.tenant_id == done.tenant_id,
                        Backup.status == "completed",
                    )
                )
            ).scalars()
        )
    names = [p.name for p in path.parent.iterdir()]
    assert [n for n in names if n.startswith(path.name)] == [path.name]  # no partial of ours
    whole = {str((path.parent / n).relative_to(backups_dir)) for n in names if ".partial-" not in n}
    assert whole <= completed
