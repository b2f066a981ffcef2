"""A plan's ``rate_limit_class`` decides the budget of its tenants' users (the
``X-RateLimit-Limit`` header), read from the plan at once: an admin's change applies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.auth import LoggedIn
from tests.fixtures.billing import make_plan, subscribe, tenant_of


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "rate_limit_enabled": True,
        "rate_limit_standard": "1000/hour",
        "rate_limit_premium": "2000/hour",
        "rate_limit_enterprise": "3000/hour",
        # The plan is looked up on every request, so a change shows on the next one.
        "rate_limit_tier_cache_seconds": 0,
    }


async def limit_of(client: httpx.AsyncClient, caller: LoggedIn) -> str:
    answer = await client.get("/api/v1/auth/me", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return answer.headers["x-ratelimit-limit"]


async def test_the_plans_rate_limit_class_sets_the_owners_budget(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    # A plan whose code is no built-in tier: only its row can say what budget it gives.
    plan = await make_plan(client, admin, code="premium", rate_limit_class="premium")
    tenant = await tenant_of(client, owner)
    assert await limit_of(client, owner) == "1000"  # starter: standard

    await subscribe(client, owner, tenant["id"], plan=plan["code"], max_users=2)
    assert await limit_of(client, owner) == "2000"

    changed = await client.patch(
        f"/api/v1/admin/plans/{plan['id']}",
        json={"rate_limit_class": "enterprise"},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert await limit_of(client, owner) == "3000"
