"""Moving a tenant between two emulator hosts of one version, over the admin API."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select, text

from saas_server.audit.models import AuditEntry
from saas_server.core.runtime import Runtime
from saas_server.moves.flows import MOVE_STEPS
from tests.fixtures.auth import LoggedIn
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.errors import assert_envelope
from tests.fixtures.moves import (
    ask_move,
    filestore_exists,
    fill,
    holdings,
    read_move,
    run_move,
    tenant_instance,
)
from tests.fixtures.odoo import EmulatorProcess, databases, running_emulator
from tests.fixtures.provisioning import add_host

pytestmark = pytest.mark.slow


@pytest.fixture
async def hosts(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess, odoo_b: EmulatorProcess
) -> tuple[dict[str, Any], dict[str, Any]]:
    source = await add_host(client, admin, odoo)
    target = await add_host(client, admin, odoo_b)
    # New tenants land on the source: the target takes none until it is activated.
    drained = await client.post(
        f"/api/v1/admin/odoo-hosts/{target['id']}/actions",
        json={"action": "drain"},
        headers=admin.headers,
    )
    assert drained.status_code == 200, drained.text
    return source, target


async def activate(client: httpx.AsyncClient, admin: LoggedIn, host_id: str) -> None:
    answer = await client.post(
        f"/api/v1/admin/odoo-hosts/{host_id}/actions",
        json={"action": "activate"},
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "healthy", answer.json()


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    hosts: tuple[dict[str, Any], dict[str, Any]],
) -> Tenant:
    tenant = await ready_tenant(client, runtime, owner, odoo)
    await activate(client, admin, hosts[1]["id"])
    fill(tenant)
    return tenant


def tenant_databases(odoo: EmulatorProcess, tenant: Tenant) -> set[str]:
    return {name for name in databases(odoo.postgres_url) if name.startswith(tenant.database)}


async def move_status(runtime: Runtime, answers: list[httpx.Response]) -> str:
    accepted = next(a for a in answers if a.status_code == 202)
    async with runtime.db.sessionmaker() as session:
        row = await session.execute(
            text("SELECT status FROM tenant_moves WHERE id = :id"),
            {"id": accepted.json()["move"]["id"]},
        )
        return str(row.scalar_one())


async def audit_entries(runtime: Runtime, action: str) -> list[AuditEntry]:
    async with runtime.db.sessionmaker() as session:
        rows = await session.execute(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.scalars())


async def test_a_move_keeps_every_record_and_file_and_drops_the_source(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    odoo_b: EmulatorProcess,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
) -> None:
    source, target = hosts
    before = holdings(tenant)
    assert len(before.files) == 3 and len(before.filestore) >= 3

    move = await run_move(client, runtime, admin, tenant.id, target["id"])

    assert move["status"] == "completed", move
    assert move["step"] == MOVE_STEPS[-1]
    assert move["source_host_id"] == source["id"] and move["target_host_id"] == target["id"]
    assert move["reason"] == "rebalancing hosts"
    assert move["error"] is None
    assert move["login_refused_ms"] is not None and move["login_refused_ms"] > 0
    # Copied while the source served; inside the window only the tables written since.
    assert move["catch_up"]["mode"] == "tables", move["catch_up"]
    print("catch_up", move["catch_up"], move["login_refused_ms"])
    assert move["logins_refused_at"] and move["logins_reopened_at"]
    # Both emulators share one PostgreSQL here: the target copy took a name of its own.
    assert move["target_database"] != tenant.database

    instance = await tenant_instance(client, owner, tenant.id)
    assert instance["host"]["id"] == target["id"]
    assert instance["database"] == move["target_database"]
    assert instance["status"] == "ready"
    assert instance["url"] == f"{odoo_b.url}/web?db={move['target_database']}"

    # Every record and every file, on the target, as Odoo shows them and on its disk.
    moved = Tenant(id=tenant.id, database=move["target_database"], odoo=odoo_b)
    after = holdings(moved)
    assert after.partners == before.partners
    assert after.files == before.files
    assert after.filestore == before.filestore
    # The tenant works there: it takes a new record and logs in.
    moved.call("res.partner", "create", {"name": "Probe after the move"})
    assert "Probe after the move" in moved.partner_names()
    url = moved.call("ir.config_parameter", "get_param", "web.base.url")
    assert url == instance["url"]

    # The source copy is gone: its database (under both names) and its filestore.
    names = databases(odoo.postgres_url)
    assert tenant.database not in names
    assert not any("_moving_" in name for name in names)
    assert not filestore_exists(odoo, tenant.database)
    assert not (odoo.data_dir / "filestore").exists() or not any(
        "_moving_" in p.name for p in (odoo.data_dir / "filestore").iterdir()
    )

    # Audited: the request with its reason, the outcome with the window.
    requested = await audit_entries(runtime, "admin.tenant.migrate")
    assert len(requested) == 1 and requested[0].new_values["reason"] == "rebalancing hosts"
    completed = await audit_entries(runtime, "move.completed")
    assert len(completed) == 1
    assert completed[0].new_values["login_refused_ms"] == move["login_refused_ms"]

    listed = await client.get(
        "/api/v1/admin/moves", params={"tenant_id": tenant.id}, headers=admin.headers
    )
    assert listed.status_code == 200, listed.text
    assert [m["id"] for m in listed.json()["results"]] == [move["id"]]

    # And back again: the source host takes it under its original name (free now).
    back = await run_move(client, runtime, admin, tenant.id, source["id"], "moving back")
    assert back["status"] == "completed", back
    assert back["target_database"] == tenant.database
    home = Tenant(id=tenant.id, database=tenant.database, odoo=odoo)
    assert holdings(home).partners == [*before.partners, "Probe after the move"]
    assert move["target_database"] not in databases(odoo.postgres_url)


@pytest.mark.parametrize("step", MOVE_STEPS[:-1])
async def test_a_failure_at_any_step_leaves_the_tenant_serving_from_the_source(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    odoo_b: EmulatorProcess,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
    step: str,
) -> None:
    source, target = hosts
    before = holdings(tenant)
    runtime.settings.faults[f"move.{step}"] = "fail"

    move = await run_move(client, runtime, admin, tenant.id, target["id"])

    assert move["status"] == "failed", move
    assert move["error"]["step"] == step
    assert "rollback" not in move["error"], move["error"]
    assert move["step"] is None  # a retry starts from the beginning
    if step not in ("prepare", "precopy"):  # refused from close_source on, and measured
        assert move["login_refused_ms"] is not None
    instance = await tenant_instance(client, owner, tenant.id)
    assert instance["host"]["id"] == source["id"]
    assert instance["database"] == tenant.database
    assert instance["status"] == "ready"
    # Serving from the source: every record and file, and it takes new ones.
    assert holdings(tenant) == before
    tenant.call("res.partner", "create", {"name": "Probe after the failure"})
    # Nothing left behind: no target copy, no parked source (every name it had starts with
    # the subdomain; the PostgreSQL is shared with other tests).
    assert tenant_databases(odoo, tenant) == {tenant.database}
    failed = await audit_entries(runtime, "move.failed")
    assert len(failed) == 1 and failed[0].new_values["error"]["step"] == step

    # Retried without the fault, the move completes with the new record.
    runtime.settings.faults.clear()
    retried = await client.post(
        f"/api/v1/admin/moves/{move['id']}/actions",
        json={"action": "retry"},
        headers=admin.headers,
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "pending"
    await runtime.run_pending_jobs()
    done = await read_move(client, admin, move["id"])
    assert done["status"] == "completed", done
    assert done["attempts"] == 2
    moved = Tenant(id=tenant.id, database=done["target_database"], odoo=odoo_b)
    assert "Probe after the failure" in moved.partner_names()
    assert holdings(moved).files == before.files


async def test_a_failed_drop_of_the_source_leaves_the_tenant_on_the_target_until_retried(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    odoo_b: EmulatorProcess,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
) -> None:
    target = hosts[1]
    before = holdings(tenant)
    runtime.settings.faults["move.drop_source"] = "fail"

    move = await run_move(client, runtime, admin, tenant.id, target["id"])

    assert move["status"] == "failed" and move["step"] == "reopen", move
    assert move["error"]["step"] == "drop_source"
    instance = await tenant_instance(client, owner, tenant.id)
    assert instance["host"]["id"] == target["id"]
    moved = Tenant(id=tenant.id, database=move["target_database"], odoo=odoo_b)
    assert holdings(moved).partners == before.partners

    runtime.settings.faults.clear()
    # Another move asked for meanwhile (back to the source host): the retry waits for it.
    other = await ask_move(client, admin, tenant.id, hosts[0]["id"], "back home")
    assert other.status_code == 202, other.text
    refused = await client.post(
        f"/api/v1/admin/moves/{move['id']}/actions",
        json={"action": "retry"},
        headers=admin.headers,
    )
    assert_envelope(refused, 409, "CONFLICT")
    assert refused.json()["error"]["details"]["reason"] == "move_running"
    await runtime.run_pending_jobs()
    home = await read_move(client, admin, other.json()["move"]["id"])
    assert home["status"] == "completed", home
    assert home["target_database"] == tenant.database
    assert holdings(tenant).partners == before.partners

    retried = await client.post(
        f"/api/v1/admin/moves/{move['id']}/actions",
        json={"action": "retry"},
        headers=admin.headers,
    )
    assert retried.status_code == 202, retried.text
    await runtime.run_pending_jobs()
    done = await read_move(client, admin, move["id"])
    assert done["status"] == "completed", done
    assert not any("_moving_" in name for name in databases(odoo.postgres_url))
    # A completed move is not retried.
    again = await client.post(
        f"/api/v1/admin/moves/{move['id']}/actions",
        json={"action": "retry"},
        headers=admin.headers,
    )
    assert_envelope(again, 409, "CONFLICT")


async def test_two_moves_at_once_for_one_tenant_one_is_refused(
    runtime: Runtime,
    admin: LoggedIn,
    owner: LoggedIn,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
    live_server: str,
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        answers = await asyncio.gather(
            *(ask_move(http, admin, tenant.id, hosts[1]["id"]) for _ in range(2))
        )
        assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert_envelope(refused, 409, "CONFLICT")
        assert refused.json()["error"]["details"]["reason"] == "move_running"

        # While it is under way, the instance is not stopped, restarted or deleted.
        for action in ("stop", "restart"):
            acted = await http.post(
                f"/api/v1/admin/tenants/{tenant.id}/actions",
                json={"action": action, "reason": "test"},
                headers=admin.headers,
            )
            assert_envelope(acted, 409, "CONFLICT")
            assert acted.json()["error"]["details"]["reason"] == "move_running"
        deleted = await http.delete(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)
        assert_envelope(deleted, 409, "CONFLICT")
    await runtime.run_pending_jobs()
    moved = await move_status(runtime, answers)
    assert moved == "completed"


async def test_moves_that_cannot_run_are_refused_with_a_clear_4xx(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo_pg_server: str,
    tmp_path: Any,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
) -> None:
    source, target = hosts

    async def refused(target_host_id: str | None, status: int, code: str, reason: str) -> None:
        answer = await ask_move(client, admin, tenant.id, target_host_id)
        assert_envelope(answer, status, code)
        assert answer.json()["error"]["details"]["reason"] == reason, answer.text

    await refused(None, 400, "MOVE_REFUSED", "target_host_missing")
    await refused(str(uuid.uuid4()), 400, "MOVE_REFUSED", "unknown_host")
    await refused(source["id"], 400, "MOVE_REFUSED", "same_host")
    with running_emulator(odoo_pg_server, tmp_path / "odoo-17", "17.0") as odoo_17:
        other = await add_host(client, admin, odoo_17)
        await refused(other["id"], 400, "MOVE_REFUSED", "version_mismatch")
        deleted = await client.delete(
            f"/api/v1/admin/odoo-hosts/{other['id']}", headers=admin.headers
        )
        assert deleted.status_code == 204, deleted.text
    drained = await client.post(
        f"/api/v1/admin/odoo-hosts/{target['id']}/actions",
        json={"action": "drain"},
        headers=admin.headers,
    )
    assert drained.status_code == 200
    await refused(target["id"], 409, "CONFLICT", "host_not_healthy")
    await activate(client, admin, target["id"])
    async with runtime.db.transaction() as session:  # a host with no room left
        await session.execute(
            text("UPDATE odoo_hosts SET capacity = 0 WHERE id = :id"), {"id": target["id"]}
        )
    await refused(target["id"], 409, "CONFLICT", "host_full")
    async with runtime.db.transaction() as session:
        await session.execute(
            text("UPDATE odoo_hosts SET capacity = 5 WHERE id = :id"), {"id": target["id"]}
        )
    stopped = await client.post(
        f"/api/v1/admin/tenants/{tenant.id}/actions",
        json={"action": "stop", "reason": "test"},
        headers=admin.headers,
    )
    assert stopped.status_code == 202, stopped.text
    await refused(target["id"], 409, "CONFLICT", "tenant_not_ready")

    # Only platform admins: a tenant's owner is refused, and sees no moves.
    as_owner = await ask_move(client, owner, tenant.id, target["id"])
    assert_envelope(as_owner, 403, "FORBIDDEN")
    listed = await client.get("/api/v1/admin/moves", headers=owner.headers)
    assert_envelope(listed, 403, "FORBIDDEN")
    missing = await client.get(f"/api/v1/admin/moves/{uuid.uuid4()}", headers=admin.headers)
    assert_envelope(missing, 404, "MOVE_NOT_FOUND")
    assert (await client.get("/api/v1/admin/moves", headers=admin.headers)).json()["count"] == 0


async def test_the_instance_is_moving_from_the_request_to_the_end_of_the_move(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
) -> None:
    source, target = hosts
    # A move that fails (and rolls back), then one that completes: each time the instance
    # is `moving` while the move is queued or running, and `ready` when it ends.
    for fault, lands_on in (("fail", source), (None, target)):
        if fault:
            runtime.settings.faults["move.restore"] = fault
        else:
            runtime.settings.faults.clear()
        asked = await ask_move(client, admin, tenant.id, target["id"])
        assert asked.status_code == 202, asked.text
        instance = await tenant_instance(client, owner, tenant.id)
        assert instance["status"] == "moving"
        found = await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)
        assert found.json()["status"] == "ready"  # the tenant itself stays ready
        # The table refuses what a moving instance cannot do, with the move named.
        stopped = await client.post(
            f"/api/v1/instances/{instance['id']}/actions",
            json={"action": "stop"},
            headers=owner.headers,
        )
        assert_envelope(stopped, 409, "CONFLICT")
        assert stopped.json()["error"]["details"]["reason"] == "move_running"
        await runtime.run_pending_jobs()
        move = await read_move(client, admin, asked.json()["move"]["id"])
        assert move["status"] == ("failed" if fault else "completed"), move
        instance = await tenant_instance(client, owner, tenant.id)
        assert instance["status"] == "ready"
        assert instance["host"]["id"] == lands_on["id"]

    transitions = await client.get(
        f"/api/v1/instances/{instance['id']}/transitions", headers=owner.headers
    )
    assert transitions.status_code == 200, transitions.text
    moves = [
        (t["action"], t["from_status"], t["to_status"])
        for t in transitions.json()
        if t["action"] in ("move", "moved")
    ]
    assert sorted(moves) == sorted(
        [("move", "ready", "moving"), ("moved", "moving", "ready")] * 2
    ), moves


async def _precopy_done(odoo: EmulatorProcess, tenant: Tenant) -> None:
    """Until the target copy is restored and closed again (the pre-copy's end)."""
    for _ in range(600):
        async with await psycopg.AsyncConnection.connect(odoo.postgres_url) as conn:
            rows = await (
                await conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s"
                    " AND NOT datallowconn",
                    (tenant.database + "%", tenant.database),
                )
            ).fetchall()
        if rows:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the pre-copy never ended")


async def _move_with_writes_after_the_precopy(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    tenant: Tenant,
    target_id: str,
    writes: Any,
) -> dict[str, Any]:
    # The flow waits after the pre-copy (source still serving) while the tenant writes.
    runtime.settings.faults["move.precopy"] = "sleep:4"
    moving = asyncio.create_task(run_move(client, runtime, admin, tenant.id, target_id))
    await _precopy_done(odoo, tenant)
    await asyncio.to_thread(writes)
    move = await moving
    runtime.settings.faults.clear()
    assert move["status"] == "completed", move
    return move


async def test_rows_written_after_the_precopy_are_caught_up_table_by_table(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    odoo_b: EmulatorProcess,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
) -> None:
    first = tenant.call("res.partner", "search", [["name", "=", "Probe 000"]])
    last = tenant.call("res.partner", "search", [["name", "=", "Probe 019"]])

    def writes() -> None:
        tenant.call("res.partner", "create", {"name": "Probe written during the move"})
        tenant.call("res.partner", "write", first, {"name": "Probe renamed during the move"})
        tenant.call("res.partner", "unlink", last)

    before_files = holdings(tenant).files
    move = await _move_with_writes_after_the_precopy(
        client, runtime, admin, odoo, tenant, hosts[1]["id"], writes
    )
    after = holdings(tenant_on(move, odoo_b, tenant))
    names = set(after.partners)
    assert "Probe written during the move" in names
    assert "Probe renamed during the move" in names
    assert "Probe 000" not in names and "Probe 019" not in names
    assert after.files == before_files
    # Inside the window only the tables written since the pre-copy were copied: the
    # partners and the login records, and at most the attachments, whose counts from the
    # tenant's setup a connection of the emulator may flush after the first reading (a table
    # copied for nothing, never a write missed: odoo/table_delta.py).
    assert move["catch_up"]["mode"] == "tables", move["catch_up"]
    assert "public.res_partner" in move["catch_up"]["tables"]
    assert set(move["catch_up"]["tables"]) <= {
        "public.res_partner",
        "public.res_users_log",
        "public.ir_attachment",
    }, move["catch_up"]
    # The target's sequences went forward with the source's: a new record takes a new id.
    moved = tenant_on(move, odoo_b, tenant)
    new_id = moved.call("res.partner", "create", {"name": "Probe after the move"})
    assert new_id > max(moved.call("res.partner", "search", [["id", "!=", new_id]]))


async def test_a_file_added_after_the_precopy_makes_the_window_copy_everything(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    odoo_b: EmulatorProcess,
    hosts: tuple[dict[str, Any], dict[str, Any]],
    tenant: Tenant,
) -> None:
    def writes() -> None:
        tenant.add_file("probe-late.bin", b"written during the move " * 500)

    move = await _move_with_writes_after_the_precopy(
        client, runtime, admin, odoo, tenant, hosts[1]["id"], writes
    )
    # Its file is in the source's filestore only: the whole database was copied again.
    assert move["catch_up"] == {
        "mode": "full",
        "tables": [],
        "reason": "files were added since the pre-copy",
    }
    moved = tenant_on(move, odoo_b, tenant)
    assert moved.files()["probe-late.bin"] == b"written during the move " * 500
    assert len(holdings(moved).filestore) >= 4


def tenant_on(move: dict[str, Any], odoo: EmulatorProcess, tenant: Tenant) -> Tenant:
    return Tenant(id=tenant.id, database=move["target_database"], odoo=odoo)
