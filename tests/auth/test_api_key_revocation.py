"""A revoked key is refused by another API process within a second: two real servers on
one database."""

from __future__ import annotations

import asyncio
import time

import httpx

from saas_server.core.settings import Settings
from tests.fixtures.auth import LoggedIn
from tests.fixtures.live_server import running_server

OTHER_PROCESS_SECONDS = 1.0


async def test_a_key_revoked_on_one_process_is_refused_by_another(
    live_server: str, settings: Settings, owner: LoggedIn
) -> None:
    with running_server(settings) as second_url:
        async with (
            httpx.AsyncClient(base_url=live_server, timeout=60) as first,
            httpx.AsyncClient(base_url=second_url, timeout=60) as second,
        ):
            created = await first.post(
                "/api/v1/api-keys",
                json={"name": "deploy", "scopes": ["users:read"]},
                headers=owner.headers,
            )
            assert created.status_code == 201, created.text
            key = {"X-API-Key": created.json()["key"]}
            for _ in range(3):  # warm: whatever the second process keeps, it now holds
                assert (await second.get("/api/v1/auth/me", headers=key)).status_code == 200
            revoked = await first.delete(
                f"/api/v1/api-keys/{created.json()['id']}", headers=owner.headers
            )
            assert revoked.status_code == 204, revoked.text
            deadline = time.monotonic() + OTHER_PROCESS_SECONDS
            while True:
                status = (await second.get("/api/v1/auth/me", headers=key)).status_code
                if status == 401:
                    break
                assert time.monotonic() < deadline, "the second process still accepts the key"
                await asyncio.sleep(0.02)
