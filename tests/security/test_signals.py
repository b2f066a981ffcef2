"""The signals no other table keeps, recorded by the security middleware: 429s, and what it
costs a request that is neither (nothing recorded)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from saas_server.core.runtime import Runtime
from saas_server.security.models import SecurityEvent
from tests.fixtures.auth import LoggedIn


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_anonymous": "3/hour"}


async def _events(runtime: Runtime) -> dict[str, int]:
    async with runtime.db.sessionmaker() as session:
        rows = await session.execute(
            select(SecurityEvent.type, func.count()).group_by(SecurityEvent.type)
        )
        return {kind: count for kind, count in rows.all()}


async def test_rate_limited_requests_are_a_signal_and_others_cost_no_row(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn
) -> None:
    before = await _events(runtime)
    answers = [(await client.get("/api/v1/auth/me")).status_code for _ in range(6)]
    assert answers.count(429) >= 3, answers
    after = await _events(runtime)
    assert after.get("rate_limited", 0) - before.get("rate_limited", 0) == answers.count(429)
    # Plain answers (401 here, 200 below) record nothing.
    assert sum(after.values()) - sum(before.values()) == answers.count(429)
    assert (await client.get("/api/v1/auth/me", headers=admin.headers)).status_code == 200
    assert await _events(runtime) == after

    metrics = await client.get("/api/v1/security/metrics", headers=admin.headers)
    assert metrics.json()["totals"]["rate_limited"] == after["rate_limited"]
    assert metrics.json()["top_ips"][0]["ip"] == "203.0.113.7"
