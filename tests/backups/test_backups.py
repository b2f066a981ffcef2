"""Backups and restores end to end over HTTP, on the emulator, on both storage backends."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select, text

from saas_server.backups.models import Backup
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.backups import (
    Tenant,
    download,
    ready_tenant,
    restore,
    take_backup,
    unique,
)
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> Tenant:
    await add_host(client, admin, odoo)
    return await ready_tenant(client, runtime, owner, odoo)


async def event_types(runtime: Runtime) -> list[str]:
    async with runtime.db.sessionmaker() as session:
        return list((await session.execute(select(OutboxEvent.type))).scalars())


async def backup_row(runtime: Runtime, backup_id: str) -> Backup:
    async with runtime.db.sessionmaker() as session:
        backup = await session.get(Backup, uuid.UUID(backup_id))
        assert backup is not None
        return backup


async def stored_path(runtime: Runtime, backup_id: str) -> Path:
    backup = await backup_row(runtime, backup_id)
    root = runtime.settings.backup_local_dir or runtime.settings.data_dir / "backups"
    return root / backup.storage_key


@pytest.fixture(params=["local", "s3"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Both storage backends by default; a test's own parametrize gives plain overrides."""
    if isinstance(request.param, dict):
        return request.param
    if request.param == "local":
        return {}
    endpoint = request.getfixturevalue("s3_endpoint")
    from tests.fixtures.s3 import s3_settings

    return s3_settings(endpoint, f"backups-{unique()}")


@pytest.fixture
async def storage_ready(runtime: Runtime) -> None:
    storage: Any = runtime.backup_storage
    if storage.kind == "s3":
        await storage.ensure_bucket()


async def test_backup_then_restore_over_a_changed_tenant_gives_back_data_and_files(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    storage_ready: None,
) -> None:
    tenant.call("res.partner", "create", {"name": "Probe Before"})
    tenant.add_file("probe-a.txt", b"the original file " * 1000)

    backup = await take_backup(client, runtime, owner, tenant)
    assert backup["type"] == "manual"
    assert backup["size_bytes"] > 0
    assert backup["progress"] == 100
    assert backup["expires_at"]
    detail = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert detail["backups"]["count"] == 1
    assert detail["backups"]["last_backup_id"] == backup["id"]
    assert detail["backups"]["last_backup_status"] == "completed"
    assert detail["backups"]["next_scheduled_at"]
    # The download link gives the very archive the checksum describes, in Odoo's format.
    archive = await download(client, backup)
    assert len(archive) == backup["size_bytes"]
    assert hashlib.sha256(archive).hexdigest() == backup["checksum"]
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        names = zipped.namelist()
        assert "dump.sql" in names and "manifest.json" in names
        assert any(n.startswith("filestore/") for n in names)

    # Change everything the backup holds.
    tenant.call("res.partner", "create", {"name": "Probe After"})
    before = tenant.call("res.partner", "search", [["name", "=", "Probe Before"]])
    tenant.call("res.partner", "write", before, {"name": "Probe Renamed"})
    files = tenant.call("ir.attachment", "search", [["name", "=", "probe-a.txt"]])
    tenant.call("ir.attachment", "unlink", files)
    tenant.add_file("probe-b.txt", b"a later file")
    assert tenant.partner_names() == {"Probe After", "Probe Renamed"}

    done = await restore(client, runtime, owner, tenant.id, backup["id"])
    assert done["status"] == "completed", done
    assert done["progress"] == 100
    assert done["pre_restore_backup_id"]

    assert tenant.partner_names() == {"Probe Before"}
    assert tenant.files() == {"probe-a.txt": b"the original file " * 1000}
    found = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert found["status"] == "ready"
    assert found["instance"]["status"] == "ready"

    # The state before the restore was archived first, and can itself be restored.
    listed = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups",
        params={"type": "pre_restore"},
        headers=owner.headers,
    )
    assert listed.status_code == 200
    assert [b["id"] for b in listed.json()["results"]] == [done["pre_restore_backup_id"]]
    back = await restore(client, runtime, owner, tenant.id, done["pre_restore_backup_id"])
    assert back["status"] == "completed", back
    assert tenant.partner_names() == {"Probe After", "Probe Renamed"}

    types = await event_types(runtime)
    assert types.count("backup.completed") >= 3  # manual, and two pre_restore
    assert types.count("restore.completed") == 2


async def test_list_filters_and_pagination(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    storage_ready: None,
) -> None:
    first = await take_backup(client, runtime, owner, tenant)
    await take_backup(client, runtime, owner, tenant)
    url = f"/api/v1/tenants/{tenant.id}/backups"
    page = (await client.get(url, params={"page_size": 1}, headers=owner.headers)).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]
    assert (await client.get(url, params={"type": "scheduled"}, headers=owner.headers)).json()[
        "count"
    ] == 0
    assert (await client.get(url, params={"status": "completed"}, headers=owner.headers)).json()[
        "count"
    ] == 2
    day = first["created_at"][:10]
    assert (
        await client.get(url, params={"date_from": day, "date_to": day}, headers=owner.headers)
    ).json()["count"] == 2
    bad = await client.get(url, params={"type": "weekly"}, headers=owner.headers)
    assert_envelope(bad, 422, "VALIDATION_ERROR")


async def test_a_corrupted_archive_is_refused_before_the_live_database_is_touched(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    storage_ready: None,
) -> None:
    tenant.call("res.partner", "create", {"name": "Probe Before"})
    backup = await take_backup(client, runtime, owner, tenant)
    tenant.call("res.partner", "create", {"name": "Probe After"})
    # One flipped byte in storage, whichever backend holds it.
    storage = runtime.backup_storage
    key = (await backup_row(runtime, backup["id"])).storage_key
    data = bytearray(b"".join([chunk async for chunk in storage.read(key)]))
    data[len(data) // 2] ^= 0x01

    async def flipped() -> AsyncIterator[bytes]:
        yield bytes(data)

    await storage.save(key, flipped())

    done = await restore(client, runtime, owner, tenant.id, backup["id"])
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "BACKUP_INVALID"
    assert done["error"]["step"] == "validate"
    assert done["pre_restore_backup_id"] is None  # refused before anything else
    assert tenant.partner_names() == {"Probe Before", "Probe After"}
    found = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert found["status"] == "ready"
    assert "restore.failed" in await event_types(runtime)


@pytest.mark.parametrize(
    "settings_overrides", [{"faults": {"restore.restore": "fail"}}], indirect=True
)
async def test_a_restore_failing_halfway_leaves_the_tenant_on_its_previous_data(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
) -> None:
    tenant.call("res.partner", "create", {"name": "Probe Before"})
    tenant.add_file("probe-a.txt", b"first")
    backup = await take_backup(client, runtime, owner, tenant)
    tenant.call("res.partner", "create", {"name": "Probe After"})
    tenant.add_file("probe-b.txt", b"second")

    done = await restore(client, runtime, owner, tenant.id, backup["id"])
    assert done["status"] == "rolled_back", done
    assert done["error"]["step"] == "restore"
    assert tenant.partner_names() == {"Probe Before", "Probe After"}
    assert tenant.files() == {"probe-a.txt": b"first", "probe-b.txt": b"second"}
    found = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert found["status"] == "ready"
    assert "rolled back" in found["instance"]["status_reason"]


@pytest.mark.parametrize("settings_overrides", [{}], indirect=True)
async def test_restore_rules(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    tenant: Tenant,
    inbox: Inbox,
    odoo: EmulatorProcess,
) -> None:
    backup = await take_backup(client, runtime, owner, tenant)
    # Another user's tenant cannot name this backup: 404, not 403.
    other = await verified_user(client, runtime, inbox, "other@example.com")
    theirs = await ready_tenant(client, runtime, other, odoo)
    response = await client.post(
        f"/api/v1/tenants/{theirs.id}/backups/{backup['id']}/restore",
        json={},
        headers=other.headers,
    )
    assert_envelope(response, 404, "BACKUP_NOT_FOUND")
    response = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}", headers=other.headers
    )
    assert response.status_code == 404

    # While a restore is under way, another one (or a backup) is a conflict.
    first = await client.post(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}/restore",
        json={},
        headers=owner.headers,
    )
    assert first.status_code == 202
    again = await client.post(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}/restore",
        json={},
        headers=owner.headers,
    )
    assert_envelope(again, 409, "CONFLICT")
    backup_now = await client.post(f"/api/v1/tenants/{tenant.id}/backups", headers=owner.headers)
    assert_envelope(backup_now, 409, "CONFLICT")
    tenant_now = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert tenant_now["status"] == "restoring"
    await runtime.run_pending_jobs()

    # Only manual backups can be deleted; a deleted one is gone with its archive.
    pre = (
        await client.get(
            f"/api/v1/tenants/{tenant.id}/backups",
            params={"type": "pre_restore"},
            headers=owner.headers,
        )
    ).json()["results"][0]
    refused = await client.delete(
        f"/api/v1/tenants/{tenant.id}/backups/{pre['id']}", headers=owner.headers
    )
    assert_envelope(refused, 409, "CONFLICT")
    path = await stored_path(runtime, backup["id"])
    assert path.exists()
    deleted = await client.delete(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}", headers=owner.headers
    )
    assert deleted.status_code == 204
    assert not path.exists()
    gone = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}", headers=owner.headers
    )
    assert_envelope(gone, 404, "BACKUP_NOT_FOUND")


@pytest.mark.parametrize(
    "settings_overrides", [{"backup_policies": {"starter": {"manual_quota": 1}}}], indirect=True
)
async def test_manual_backups_count_against_the_tier_quota(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, tenant: Tenant
) -> None:
    await take_backup(client, runtime, owner, tenant)
    response = await client.post(f"/api/v1/tenants/{tenant.id}/backups", headers=owner.headers)
    assert_envelope(response, 400, "BACKUP_QUOTA_EXCEEDED")
    assert response.json()["error"]["details"]["quota"] == 1


@pytest.mark.parametrize("settings_overrides", [{}], indirect=True)
async def test_restore_into_a_new_tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    odoo: EmulatorProcess,
) -> None:
    tenant.call("res.partner", "create", {"name": "Probe Original"})
    backup = await take_backup(client, runtime, owner, tenant)
    target = "copy" + unique()
    done = await restore(
        client,
        runtime,
        owner,
        tenant.id,
        backup["id"],
        {"new_tenant": {"name": "The Copy", "subdomain": target}},
    )
    assert done["status"] == "completed", done
    assert done["as_copy"] is True
    assert done["tenant_id"] != tenant.id and done["source_tenant_id"] == tenant.id
    copy = (await client.get(f"/api/v1/tenants/{done['tenant_id']}", headers=owner.headers)).json()
    assert copy["status"] == "ready"
    assert copy["instance"]["database"] == target
    twin = Tenant(id=copy["id"], database=target, odoo=odoo)
    assert twin.partner_names() == {"Probe Original"}
    # A copy is a new database: Odoo gave it its own uuid.
    uuids = {t.call("ir.config_parameter", "get_param", "database.uuid") for t in (tenant, twin)}
    assert len(uuids) == 2
    # The original is untouched.
    assert tenant.partner_names() == {"Probe Original"}


@pytest.mark.parametrize("settings_overrides", [{}], indirect=True)
async def test_tenant_deletion_first_takes_a_pre_delete_backup(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    tenant: Tenant,
) -> None:
    tenant.call("res.partner", "create", {"name": "Probe Last Words"})
    response = await client.delete(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)
    assert response.status_code in (200, 202, 204), response.text
    await runtime.run_pending_jobs()
    listed = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups", params={"type": "pre_delete"}, headers=admin.headers
    )
    assert listed.status_code == 200, listed.text
    [backup] = listed.json()["results"]
    assert backup["status"] == "completed"
    assert backup["expires_at"]
    path = await stored_path(runtime, backup["id"])
    with zipfile.ZipFile(path) as zipped:
        assert b"Probe Last Words" in zipped.read("dump.sql")
    assert tenant.database not in tenant.odoo.rpc("db", "list")


@pytest.mark.parametrize("settings_overrides", [{}], indirect=True)
async def test_admin_backup_action_with_reason_in_the_audit_trail(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn, tenant: Tenant
) -> None:
    url = f"/api/v1/admin/tenants/{tenant.id}/actions"
    refused = await client.post(
        url, json={"action": "backup", "reason": "x"}, headers=owner.headers
    )
    assert_envelope(refused, 403, "FORBIDDEN")
    response = await client.post(
        url, json={"action": "backup", "reason": "before the migration"}, headers=admin.headers
    )
    assert response.status_code == 202, response.text
    backup_id = response.json()["backup"]["id"]
    await runtime.run_pending_jobs()
    found = await client.get(
        f"/api/v1/tenants/{tenant.id}/backups/{backup_id}", headers=owner.headers
    )
    assert found.json()["status"] == "completed"
    assert found.json()["reason"] == "before the migration"
    logs = await client.get(
        "/api/v1/audit/logs", params={"action": "admin.tenant.backup"}, headers=admin.headers
    )
    [entry] = logs.json()["results"]
    assert entry["new_values"]["reason"] == "before the migration"


@pytest.mark.parametrize("settings_overrides", [{}], indirect=True)
async def test_a_stopped_instance_is_backed_up_and_stays_stopped(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    odoo: EmulatorProcess,
) -> None:
    instance = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()[
        "instance"
    ]
    stopped = await client.post(
        f"/api/v1/instances/{instance['id']}/actions",
        json={"action": "stop"},
        headers=owner.headers,
    )
    assert stopped.status_code in (200, 202), stopped.text
    backup = await take_backup(client, runtime, owner, tenant)
    assert backup["size_bytes"] > 0
    found = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert found["status"] == "stopped"
    with psycopg.connect(odoo.postgres_url) as conn:
        row = conn.execute(
            "SELECT datallowconn FROM pg_database WHERE datname = %s", (tenant.database,)
        ).fetchone()
    assert row == (False,)


@pytest.mark.parametrize("settings_overrides", [{}], indirect=True)
@pytest.mark.parametrize("busy", ["provisioning", "deleting"])
async def test_no_restore_while_provisioning_or_deleting(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    tenant: Tenant,
    busy: str,
) -> None:
    backup = await take_backup(client, runtime, owner, tenant)
    async with runtime.db.transaction() as session:
        await session.execute(
            text("UPDATE instances SET status = :s WHERE tenant_id = :t"),
            {"s": busy, "t": uuid.UUID(tenant.id)},
        )
    response = await client.post(
        f"/api/v1/tenants/{tenant.id}/backups/{backup['id']}/restore",
        json={},
        headers=admin.headers,  # a platform admin still sees a deleting tenant
    )
    assert_envelope(response, 409, "CONFLICT")
    assert response.json()["error"]["details"]["status"] == busy
    again = await client.post(f"/api/v1/tenants/{tenant.id}/backups", headers=admin.headers)
    assert_envelope(again, 409, "CONFLICT")
