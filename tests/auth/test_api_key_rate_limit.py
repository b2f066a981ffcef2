"""A key's calls count against its user's rate limit: the same budget as the user's JWT."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import login, register


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "rate_limit_anonymous": "100/hour",
        "rate_limit_standard": "8/hour",
        "rate_limit_register": "30/hour",
        "rate_limit_login": "60/minute",
        "redis_url": None,
    }


async def test_a_key_spends_its_users_budget(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await register(client, "keyed@example.com")
    session = await login(client, "keyed@example.com")
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["users:read"]}, headers=session.headers
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-ratelimit-limit"] == "8"
    after_jwt = int(created.headers["x-ratelimit-remaining"])
    key = created.json()["key"]
    by_bearer = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert by_bearer.headers["x-ratelimit-limit"] == "8"  # the user's plan, not the IP's
    assert int(by_bearer.headers["x-ratelimit-remaining"]) == after_jwt - 1
    by_header = await client.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert int(by_header.headers["x-ratelimit-remaining"]) == after_jwt - 2
    # The user's JWT sees the same budget, spent by the key.
    me = await client.get("/api/v1/auth/me", headers=session.headers)
    assert int(me.headers["x-ratelimit-remaining"]) == after_jwt - 3
    # Something that only looks like a key counts against the address.
    fake = await client.get("/api/v1/auth/me", headers={"X-API-Key": "saas_live_nothing"})
    assert fake.status_code == 401
    assert fake.headers["x-ratelimit-limit"] == "100"
