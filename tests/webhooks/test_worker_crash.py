"""SIGKILL of a worker in the middle of a delivery: the event is still delivered (at least
once), by another worker, and the attempt log holds no half-written attempt."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.events import service as events
from saas_server.users.models import User
from saas_server.webhooks.models import WebhookAttempt, WebhookDelivery
from saas_server.webhooks.schemas import EndpointCreate
from saas_server.webhooks.service import WebhookService
from tests.fixtures.webhook_receiver import running_receiver
from tests.fixtures.workers import worker

pytestmark = pytest.mark.slow

WORKER_ENV = {"SAAS_WEBHOOKS_ALLOW_PRIVATE": "true", "SAAS_WEBHOOKS_RETRY_SWEEP_SECONDS": "0.5"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_allow_private": True}


async def wait_until(condition: object, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def test_sigkill_mid_delivery_loses_nothing(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    with running_receiver(delays=[60.0]) as receiver:
        async with runtime.db.transaction() as session:
            user = User(email="hooks@example.com", full_name="Hooks", role="admin")
            session.add(user)
            await session.flush()
            service = WebhookService(session, runtime)
            endpoint, secret = await service.create(
                user, EndpointCreate(url=receiver.url, events=["backup.completed"])
            )
            event = await events.emit(session, "backup.completed", {"backup_id": "x"})
            event_id = str(event.id)

        first = worker(
            settings.database_url, tmp_path / "w1", tmp_path / "w1.log", extra_env=WORKER_ENV
        )
        try:
            # The first worker has sent the request; the receiver holds it unanswered.
            await wait_until(lambda: receiver.arrived >= 1)
            await asyncio.sleep(0.3)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert receiver.received == []  # never answered

        second = worker(
            settings.database_url, tmp_path / "w2", tmp_path / "w2.log", extra_env=WORKER_ENV
        )
        try:
            await wait_until(lambda: len(receiver.received) >= 1)
            async with runtime.db.sessionmaker() as session:
                for _ in range(200):
                    delivery = (
                        await session.execute(
                            select(WebhookDelivery).where(
                                WebhookDelivery.event_id == uuid.UUID(event_id)
                            )
                        )
                    ).scalar_one()
                    if delivery.status == "succeeded":
                        break
                    session.expire_all()
                    await asyncio.sleep(0.1)
                assert delivery.status == "succeeded"
                attempts = (
                    (
                        await session.execute(
                            select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                        )
                    )
                    .scalars()
                    .all()
                )
        finally:
            second.terminate()
            second.wait(timeout=60)

    # The killed attempt left no row; the one that got through is recorded.
    assert [a.status_code for a in attempts] == [200]
    assert receiver.arrived == 2
    [answered] = receiver.received
    assert answered.headers["webhook-id"] == event_id
    Webhook(secret).verify(answered.body, answered.headers)
    assert json.loads(answered.body)["data"] == {"backup_id": "x"}
    assert endpoint.id == delivery.endpoint_id
