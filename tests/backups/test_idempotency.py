"""``Idempotency-Key`` on taking and restoring a backup, over HTTP: the same key and request
answer the first answer again and act once; the same key with another request is a 409."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select

from saas_server.backups.models import Backup, Restore
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host

pytestmark = pytest.mark.slow


async def count(runtime: Runtime, model: type[Backup] | type[Restore], tenant_id: str) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(model)
                    .where(model.tenant_id == uuid.UUID(tenant_id))
                )
            ).scalar_one()
        )


async def test_a_backup_and_a_restore_sent_twice_with_one_key_happen_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    tenant: Tenant = await ready_tenant(client, runtime, owner, odoo)
    backups = f"/api/v1/tenants/{tenant.id}/backups"
    headers = {**owner.headers, "Idempotency-Key": "nightly-1"}
    first = await client.post(backups, json={"reason": "before upgrade"}, headers=headers)
    assert first.status_code == 202, first.text
    again = await client.post(backups, json={"reason": "before upgrade"}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(runtime, Backup, tenant.id) == 1
    other = await client.post(backups, json={"reason": "another"}, headers=headers)
    assert_envelope(other, 409, "CONFLICT")
    assert await count(runtime, Backup, tenant.id) == 1

    await runtime.run_pending_jobs()
    restore_path = f"{backups}/{first.json()['id']}/restore"
    restore_headers = {**owner.headers, "Idempotency-Key": "restore-1"}
    restored = await client.post(restore_path, json={}, headers=restore_headers)
    assert restored.status_code == 202, restored.text
    replayed = await client.post(restore_path, json={}, headers=restore_headers)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == restored.json()
    assert await count(runtime, Restore, tenant.id) == 1
    # The backup's key on the restore: another request, refused.
    crossed = await client.post(restore_path, json={}, headers=headers)
    assert_envelope(crossed, 409, "CONFLICT")
    await runtime.run_pending_jobs()
    assert await count(runtime, Restore, tenant.id) == 1
