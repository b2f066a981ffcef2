"""Provider health, checked against real servers on loopback: fast, slow, failing, down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.core.clock import FrozenClock, isoformat
from saas_server.core.runtime import Runtime
from saas_server.core.schedule import defer_maintenance
from saas_server.integrations.health import check_providers, overall_status
from saas_server.integrations.service import CHECK_HEALTH_TASK
from saas_server.wiring import schedule
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.http_peers import closed_port_url, http_peer
from tests.fixtures.integrations import create_provider

HEALTH = "/api/v1/integrations/health"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"integrations_health_degraded_ms": 300, "integrations_health_timeout_seconds": 2.0}


async def test_fast_slow_failing_and_down_providers(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    with (
        http_peer() as fast,
        http_peer(delay=0.6) as slow,
        http_peer(status=503) as failing,
        http_peer(delay=5) as hanging,
    ):
        await create_provider(client, admin, name="fast", api_base_url=fast)
        await create_provider(client, admin, name="slow", api_base_url=slow)
        await create_provider(client, admin, name="failing", api_base_url=failing)
        await create_provider(client, admin, name="hanging", api_base_url=hanging)
        await create_provider(client, admin, name="gone", api_base_url=closed_port_url())
        await create_provider(client, admin, name="unchecked")  # no api_base_url

        before = (await client.get(HEALTH, headers=admin.headers)).json()
        assert before["providers"]["fast"] == {
            "status": "unknown",
            "response_time": None,
            "last_check": None,
            "error": None,
        }
        assert await check_providers(runtime) == 5

    report = (await client.get(HEALTH, headers=admin.headers)).json()
    providers = report["providers"]
    assert providers["fast"]["status"] == "healthy"
    assert providers["fast"]["response_time"] < 300
    assert providers["fast"]["last_check"] == isoformat(clock.now())
    assert providers["slow"]["status"] == "degraded"
    assert providers["slow"]["response_time"] >= 600
    assert providers["failing"]["status"] == "down"
    assert providers["failing"]["error"] == "HTTP 503"
    # The timeout (2 s) cut the hanging one short.
    assert providers["hanging"]["status"] == "down"
    assert "Timeout" in providers["hanging"]["error"]
    assert providers["gone"]["status"] == "down"
    assert providers["gone"]["response_time"] is None
    assert providers["unchecked"]["status"] == "unknown"
    assert report["status"] == "degraded"


async def test_the_scheduled_job_checks_only_active_providers(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    with http_peer() as fast:
        await create_provider(client, admin, name="fast", api_base_url=fast)
        await create_provider(
            client, admin, name="off", api_base_url=closed_port_url(), is_active=False
        )
        # As the schedule runs it: a job on a worker.
        await defer_maintenance(runtime, CHECK_HEALTH_TASK)
        await runtime.run_pending_jobs()
    report = (await client.get(HEALTH, headers=admin.headers)).json()
    assert report == {"status": "healthy", "providers": report["providers"]}
    assert set(report["providers"]) == {"fast"}


async def test_overall_status_and_access(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    assert overall_status([]) == "healthy"
    assert overall_status(["healthy", "unknown"]) == "healthy"
    assert overall_status(["healthy", "degraded"]) == "degraded"
    assert overall_status(["healthy", "down"]) == "degraded"
    assert overall_status(["down", "down", "unknown"]) == "down"
    assert_envelope(await client.get(HEALTH, headers=owner.headers), 403, "FORBIDDEN")
    assert schedule(runtime.settings)[CHECK_HEALTH_TASK] == 60.0
