"""``saas webhooks list|deliveries|retry|replay``: the operator's view of every endpoint and
its delivery log, and retries and replays that the workers then send."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from saas_server.audit.models import AuditEntry
from saas_server.cli.main import app
from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.webhooks import delivery as webhook_delivery
from tests.fixtures.auth import LoggedIn
from tests.fixtures.cli import cli, cli_env
from tests.fixtures.tenants import create_tenant
from tests.fixtures.webhook_receiver import Receiver, running_receiver

ENDPOINTS = "/api/v1/webhooks/endpoints"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_allow_private": True}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


async def saas(runtime: Runtime, *args: str) -> tuple[int, str]:
    return await asyncio.to_thread(cli, runtime, list(args))


def _json_of(runtime: Runtime, args: list[str]) -> Any:
    result = CliRunner().invoke(app, args, env=cli_env(runtime), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # stderr carries the logs


async def saas_json(runtime: Runtime, *args: str) -> Any:
    return await asyncio.to_thread(_json_of, runtime, [*args, "--json"])


async def test_list_deliveries_retry_and_replay(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, receiver: Receiver
) -> None:
    tenant = await create_tenant(client, owner, "clihooks")
    made = await client.post(
        ENDPOINTS,
        json={"url": receiver.url, "events": ["*"], "tenant_id": tenant["id"]},
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()
    other = await client.post(
        ENDPOINTS, json={"url": receiver.url, "events": ["user.updated"]}, headers=owner.headers
    )
    disabled = await client.patch(
        f"{ENDPOINTS}/{other.json()['id']}", json={"status": "disabled"}, headers=owner.headers
    )
    assert disabled.status_code == 200, disabled.text
    # The first delivery fails: the log shows it pending with its next attempt.
    receiver.script = [500]
    updated = await client.patch(
        f"/api/v1/tenants/{tenant['id']}", json={"name": "Renamed"}, headers=owner.headers
    )
    assert updated.status_code == 200, updated.text
    await webhook_delivery.sweep(runtime)
    await runtime.run_pending_jobs()

    # list: every endpoint, filtered by status; the text lists the ids whole.
    listed = await saas_json(runtime, "webhooks", "list")
    assert {e["id"] for e in listed} == {endpoint["id"], other.json()["id"]}
    active = await saas_json(runtime, "webhooks", "list", "--status", "active")
    assert [e["id"] for e in active] == [endpoint["id"]]
    assert "secret" not in json.dumps(listed)
    code, text = await saas(runtime, "webhooks", "list", "--status", "disabled")
    assert code == 0 and other.json()["id"] in text and endpoint["id"] not in text, text
    code, text = await saas(runtime, "webhooks", "list", "--status", "paused")
    assert code == 2, text

    # deliveries: each with its attempts; the failed one is pending with a retry time.
    shown = await saas_json(runtime, "webhooks", "deliveries", endpoint["id"])
    failed = [d for d in shown if d["last_status_code"] == 500]
    assert len(failed) == 1, shown
    delivery = failed[0]
    assert delivery["status"] == "pending" and delivery["next_attempt_at"]
    assert [a["status_code"] for a in delivery["attempts"]] == [500]
    only_pending = await saas_json(
        runtime, "webhooks", "deliveries", endpoint["id"], "--status", "pending"
    )
    assert [d["id"] for d in only_pending] == [delivery["id"]]

    # retry: sent now, not at its scheduled time; audited without an actor.
    received = len(receiver.received)
    code, text = await saas(runtime, "webhooks", "retry", delivery["id"])
    assert code == 0 and "queued" in text, text
    await runtime.run_pending_jobs()
    assert len(receiver.received) == received + 1
    after = await saas_json(runtime, "webhooks", "deliveries", endpoint["id"])
    retried = next(d for d in after if d["id"] == delivery["id"])
    assert retried["status"] == "succeeded"
    assert [a["status_code"] for a in retried["attempts"]] == [500, 200]
    async with runtime.db.sessionmaker() as session:
        entry = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "webhook_delivery.retried")
            )
        ).scalar_one()
    assert entry.user_id is None and entry.new_values["delivery_id"] == delivery["id"]

    # replay: every event of the window goes out again under its own webhook-id, the
    # tenant's creation included (recorded before the endpoint existed).
    # The tenant's provisioning steps (``instance.progress``) went out too.
    seen = len(receiver.received)
    [updated_id] = {
        r.headers["webhook-id"]
        for r in receiver.received
        if json.loads(r.body)["type"] == "tenant.updated"
    }
    window_start = clock.now() - timedelta(hours=1)
    async with runtime.db.sessionmaker() as session:
        in_window = (
            await session.execute(
                select(OutboxEvent.type).where(
                    OutboxEvent.tenant_id == uuid.UUID(tenant["id"]),
                    OutboxEvent.occurred_at >= window_start,
                )
            )
        ).scalars()
        window_types = list(in_window)
    assert {"tenant.created", "tenant.updated"} <= set(window_types)
    since = window_start.isoformat()
    replayed = await saas_json(runtime, "webhooks", "replay", endpoint["id"], "--since", since)
    assert replayed == {"queued": len(window_types)}
    await runtime.run_pending_jobs()
    again = [json.loads(r.body)["type"] for r in receiver.received[seen:]]
    assert sorted(again) == sorted(window_types)
    replayed_ids = {
        json.loads(r.body)["type"]: r.headers["webhook-id"] for r in receiver.received[seen:]
    }
    assert replayed_ids["tenant.updated"] == updated_id

    # Clear refusals: a malformed id, an unknown one, a disabled endpoint's replay.
    code, text = await saas(runtime, "webhooks", "retry", "nope")
    assert code == 2 and "not a webhook delivery id" in text, text
    code, text = await saas(runtime, "webhooks", "deliveries", str(uuid.uuid4()))
    assert code == 1 and "not found" in text.lower(), text
    code, text = await saas(runtime, "webhooks", "replay", other.json()["id"], "--since", since)
    assert code == 1 and "disabled" in text, text
