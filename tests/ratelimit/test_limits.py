"""Rate limits: headers on /api answers, 429 with Retry-After, plans, auth budgets, Redis."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from saas_server.app import create_app
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.wiring import build_runtime
from tests.fixtures.auth import login, platform_admin, register
from tests.fixtures.errors import assert_envelope
from tests.fixtures.settings import TEST_SECRET_KEY


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "rate_limit_anonymous": "5/hour",
        "rate_limit_standard": "8/hour",
        "rate_limit_register": "30/hour",
        "rate_limit_login": "60/minute",
    }


async def test_headers_on_success_and_on_404(client: httpx.AsyncClient) -> None:
    ok = await client.post("/api/v1/auth/resend-verification", json={"email": "a@example.com"})
    assert ok.status_code == 202
    assert ok.headers["x-ratelimit-limit"] == "5"
    assert ok.headers["x-ratelimit-remaining"] == "4"
    assert int(ok.headers["x-ratelimit-reset"]) > 1_700_000_000
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["x-ratelimit-remaining"] == "3"
    assert "x-ratelimit-limit" not in (await client.get("/health")).headers


async def test_anonymous_budget_runs_out_with_retry_after(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await client.get("/api/v1/auth/me")).status_code == 401
    refused = await client.get("/api/v1/auth/me")
    assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize(
    "settings_overrides",
    [{"rate_limit_anonymous": "5/hour", "rate_limit_webhook_intake": "12/minute"}],
)
async def test_signed_webhook_intake_has_its_own_budget_not_the_anonymous_one(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    """A provider's burst of deliveries is not an anonymous visitor: it neither spends nor is
    refused by the anonymous budget, and still meets a limit of its own."""
    intakes = (
        "/api/v1/odoo/webhook",
        "/api/v1/integrations/webhooks/some-provider",
        "/api/v1/billing/webhooks/stripe",
    )
    for i in range(12):
        answer = await client.post(intakes[i % 3], content=b"{}")
        assert answer.status_code != 429, answer.text
        assert answer.headers["x-ratelimit-limit"] == "12"
    assert_envelope(await client.post(intakes[0], content=b"{}"), 429, "RATE_LIMIT_EXCEEDED")
    # The anonymous budget is untouched by all of it.
    anonymous = await client.get("/api/v1/auth/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["x-ratelimit-remaining"] == "4"


# In memory even when the suite runs on Redis: the `limits` library's Redis storage stamps
# hits with the machine's time, which the injected clock cannot move.
@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "rate_limit_anonymous": "5/hour",
            "rate_limit_standard": "8/hour",
            "rate_limit_register": "30/hour",
            "rate_limit_login": "60/minute",
            "redis_url": None,
        }
    ],
)
async def test_the_window_rolls_over_when_the_clock_moves(
    client: httpx.AsyncClient, clock: FrozenClock, settings: Settings
) -> None:
    assert settings.redis_url is None
    first = await client.get("/api/v1/auth/me")
    reset_at = int(first.headers["x-ratelimit-reset"])
    assert reset_at == int(clock.now().timestamp()) + 3600  # measured on the injected clock
    for _ in range(4):
        assert (await client.get("/api/v1/auth/me")).status_code == 401
    clock.advance(minutes=59)  # still inside the hour: the budget stays spent
    refused = await client.get("/api/v1/auth/me")
    assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert refused.headers["retry-after"] == "60"
    clock.advance(minutes=1)  # the first hit is an hour old: counted still (as in limits)
    assert (await client.get("/api/v1/auth/me")).status_code == 429
    clock.advance(seconds=1)  # now the five (all at one frozen instant) left the window
    again = await client.get("/api/v1/auth/me")
    assert again.status_code == 401
    assert again.headers["x-ratelimit-remaining"] == "4"


async def test_users_have_their_own_budget_by_plan(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "u@example.com")
    user = await login(client, "u@example.com")
    me = await client.get("/api/v1/auth/me", headers=user.headers)
    assert me.headers["x-ratelimit-limit"] == "8"
    admin = await platform_admin(client, runtime)
    as_admin = await client.get("/api/v1/auth/me", headers=admin.headers)
    assert as_admin.headers["x-ratelimit-limit"] == "50000"


async def test_professional_tenant_members_get_premium(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from saas_server.tenants.models import Membership, Tenant

    await register(client, "pro@example.com")
    pro = await login(client, "pro@example.com")
    import uuid

    async with runtime.db.transaction() as session:
        tenant = Tenant(
            name="Pro",
            subdomain="pro-co",
            tier="professional",
            owner_id=uuid.UUID(pro.user["id"]),
            settings={},
            metadata_={},
        )
        session.add(tenant)
        await session.flush()
        session.add(Membership(tenant_id=tenant.id, user_id=tenant.owner_id, role="owner"))
    me = await client.get("/api/v1/auth/me", headers=pro.headers)
    assert me.headers["x-ratelimit-limit"] == "5000"


@pytest.mark.parametrize(
    "settings_overrides", [{"rate_limit_login": "3/minute", "rate_limit_anonymous": "100/hour"}]
)
async def test_login_attempts_per_ip(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    for i in range(3):
        response = await client.post(
            "/api/v1/auth/login", json={"email": f"x{i}@example.com", "password": "whatever-pw"}
        )
        assert response.status_code == 401
    refused = await client.post(
        "/api/v1/auth/login", json={"email": "x9@example.com", "password": "whatever-pw"}
    )
    assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert refused.headers["retry-after"]


@pytest.mark.parametrize(
    "settings_overrides",
    [{"rate_limit_password_reset_email": "2/hour", "rate_limit_anonymous": "100/hour"}],
)
async def test_password_reset_requests_per_email(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    url = "/api/v1/auth/password-reset/request"
    for _ in range(2):
        assert (await client.post(url, json={"email": "a@example.com"})).status_code == 202
    assert_envelope(
        await client.post(url, json={"email": "a@example.com"}), 429, "RATE_LIMIT_EXCEEDED"
    )
    assert (await client.post(url, json={"email": "b@example.com"})).status_code == 202


@pytest.mark.parametrize(
    "settings_overrides", [{"rate_limit_register": "2/hour", "rate_limit_anonymous": "100/hour"}]
)
async def test_registrations_per_ip(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    for i in range(2):
        await register(client, f"r{i}@example.com")
    refused = await client.post(
        "/api/v1/auth/register",
        json={"email": "r9@example.com", "password": "a-long-passphrase-1", "full_name": "R"},
    )
    assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")


@pytest.mark.parametrize(
    "settings_overrides",
    [{"redis_url": "redis://127.0.0.1:1/0", "monitoring_token": "test-monitoring-token-0123"}],
)
async def test_counters_down_fail_open(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/v1/auth/resend-verification", json={"email": "a@example.com"}
    )
    assert response.status_code == 202
    monitoring = {"Authorization": "Bearer test-monitoring-token-0123"}
    response = await client.get("/health/detailed", headers=monitoring)
    # Redis itself is down, but it is not a required part: the platform is degraded, not
    # down (no 503), since requests pass unchecked meanwhile.
    assert response.status_code == 200
    health = response.json()
    assert health["components"]["redis"]["status"] == "down"
    assert health["status"] == "degraded"


@pytest.mark.skipif(not os.environ.get("SAAS_TEST_REDIS_URL"), reason="needs SAAS_TEST_REDIS_URL")
async def test_two_api_processes_share_one_budget_in_redis(settings: Settings) -> None:
    assert settings.redis_url
    assert settings.database_url
    apps = []
    runtimes = []
    for _ in range(2):
        rt = build_runtime(settings, database_url=settings.database_url, secret_key=TEST_SECRET_KEY)
        runtimes.append(rt)
        apps.append(create_app(settings, runtime=rt))
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=a, client=("198.51.100.9", 1)), base_url="http://t"
        )
        for a in apps
    ]
    try:
        statuses = []
        for i in range(6):
            response = await clients[i % 2].get("/api/v1/auth/me")
            statuses.append(response.status_code)
        # 5 per hour in all, whichever process answers.
        assert statuses == [401, 401, 401, 401, 401, 429]
    finally:
        for c in clients:
            await c.aclose()
        for rt in runtimes:
            await rt.close()
