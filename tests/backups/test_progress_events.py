"""Each step of provisioning, a backup and a restore shows on the tenant's event stream as it
starts and finishes (``instance.progress``, ``backup.progress``, ``restore.progress``), read
over the real stream of a running server, in order and before the operation's end event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.backups.flows import BACKUP_FLOW
from saas_server.backups.restore import RESTORE_STEPS
from saas_server.core.runtime import Runtime
from saas_server.instances.flows import PROVISION_STEPS
from tests.fixtures.auth import LoggedIn
from tests.fixtures.backups import ready_tenant, restore, take_backup
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.sse import EventStream, event_stream

pytestmark = pytest.mark.slow


async def _until(stream: EventStream, last: str, step: str | None = None) -> list[dict[str, Any]]:
    """The bodies of the stream's events up to and including the first of type ``last``
    (with ``step``: the one saying that step finished)."""
    bodies: list[dict[str, Any]] = []
    while True:
        message = await stream.next_event(timeout=60)
        body = message.body
        bodies.append(body)
        if message.event == last and (
            step is None or (body["data"]["step"], body["data"]["phase"]) == (step, "finished")
        ):
            return bodies


def _steps(bodies: list[dict[str, Any]], type_: str) -> list[tuple[str, str, int, int, int]]:
    return [
        (
            b["data"]["step"],
            b["data"]["phase"],
            b["data"]["index"],
            b["data"]["total"],
            b["data"]["percent"],
        )
        for b in bodies
        if b["type"] == type_
    ]


def _expected(steps: tuple[str, ...]) -> list[tuple[str, str, int, int, int]]:
    total = len(steps)
    expected = []
    for index, step in enumerate(steps, start=1):
        expected.append((step, "started", index, total, (index - 1) * 100 // total))
        expected.append((step, "finished", index, total, index * 100 // total))
    return expected


async def test_provisioning_backup_and_restore_steps_stream_live(
    live_server: str,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    async with event_stream(live_server, owner.headers) as stream:
        tenant = await ready_tenant(client, runtime, owner, odoo)
        provisioning = await _until(stream, "tenant.ready")
        assert _steps(provisioning, "instance.progress") == _expected(PROVISION_STEPS)
        first = next(b for b in provisioning if b["type"] == "instance.progress")
        assert first["data"]["tenant_id"] == tenant.id
        assert first["data"]["flow"] == "provision" and first["data"]["instance_id"]

        backup = await take_backup(client, runtime, owner, tenant)
        backing_up = await _until(stream, "backup.progress", BACKUP_FLOW.last)
        # backup.completed is sent by the complete step, before retention runs.
        types = [b["type"] for b in backing_up]
        assert types.index("backup.completed") > types.index("backup.progress")
        assert _steps(backing_up, "backup.progress") == _expected(BACKUP_FLOW.step_names)
        assert {b["data"]["backup_id"] for b in backing_up if b["type"] == "backup.progress"} == {
            backup["id"]
        }

        done = await restore(client, runtime, owner, tenant.id, backup["id"])
        restoring = await _until(stream, "restore.completed")
        steps = _steps(restoring, "restore.progress")
        # The restore first takes a safety backup of the live data (its own backup.* events).
        assert steps == _expected(RESTORE_STEPS), steps
        ids = {
            (b["data"]["restore_id"], b["data"]["backup_id"])
            for b in restoring
            if b["type"] == "restore.progress"
        }
        assert ids == {(done["id"], backup["id"])}

    # Narrowed to the tenant, a reconnecting client gets the steps again from the replay.
    path = f"/api/v1/events/stream?tenant_id={tenant.id}&last_event_id=0"
    async with event_stream(live_server, owner.headers, path) as replay:
        replayed = [m.body for m in replay.replayed]
    assert _steps(replayed, "instance.progress") == _expected(PROVISION_STEPS)
