"""The platform at a glance (admin console) and the Prometheus additions of /metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from saas_server.admin.platform_metrics import api_figures
from saas_server.core.metrics import HttpMetrics
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.provisioning import subdomain
from tests.fixtures.tenants import create_tenant

MONITORING = {"Authorization": "Bearer test-monitoring-token-0123456789abcdef"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Webhook endpoints on loopback (nothing is delivered: no worker runs).
    return {
        "monitoring_token": MONITORING["Authorization"].removeprefix("Bearer "),
        "webhooks_allow_private": True,
    }


async def test_platform_metrics_count_tenants_users_jobs_and_requests(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn
) -> None:
    await create_tenant(client, owner, subdomain())
    await create_tenant(client, owner, subdomain(), tier="professional")
    response = await client.get("/api/v1/admin/metrics/platform", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # No host yet: both tenants wait, unplaced, on the default version.
    assert body["tenants"]["by_status"] == {"provisioning": 2}
    assert body["tenants"]["by_tier"] == {"professional": 1, "starter": 1}
    assert body["tenants"]["by_version"] == {runtime.settings.default_odoo_version: 2}
    assert body["tenants"]["by_host"] == {"(unplaced)": 2}
    assert body["hosts"] == []
    assert body["users"] == {"total": 2, "active_24h": 2, "active_7d": 2}
    # The verification mails were sent; the waiting instances deferred no job yet.
    jobs = body["jobs"]
    assert jobs["running"] == 0 and jobs["failed"] == 0
    assert jobs["waiting"] >= 0
    assert body["backups"] == {"count": 0, "bytes": 0, "failed": 0, "failed_24h": 0}
    api = body["api"]
    assert api["requests"] >= 5  # registrations, logins, tenant creations
    assert api["latency_p50_ms"] is not None and api["latency_p95_ms"] >= api["latency_p50_ms"]
    assert body["durations"]["provisioning"]["count"] == 0


async def test_platform_metrics_are_for_admins_only(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    response = await client.get("/api/v1/admin/metrics/platform", headers=owner.headers)
    assert_envelope(response, 403, "FORBIDDEN")


def test_api_quantiles_interpolate_within_buckets() -> None:
    metrics = HttpMetrics()
    for _ in range(90):
        metrics.observe("GET", "/a", 200, 0.02)  # bucket (0.01, 0.025]
    for _ in range(10):
        metrics.observe("GET", "/a", 503, 2.0)  # bucket (1.0, 2.5]
    figures = api_figures(metrics.registry, 10.0)
    assert figures["requests"] == 100
    assert figures["server_errors"] == 10
    assert figures["error_rate"] == 0.1
    assert figures["requests_per_second"] == 10.0
    # Rank 50 of 90 in (10 ms, 25 ms]: 10 + 15 * 50/90 ms.
    assert figures["latency_p50_ms"] == pytest.approx(10 + 15 * 50 / 90, abs=0.01)
    # Rank 95: the 5th of 10 in (1 s, 2.5 s].
    assert figures["latency_p95_ms"] == pytest.approx(1000 + 1500 * 5 / 10, abs=0.01)
    assert api_figures(HttpMetrics().registry, 1.0)["latency_p50_ms"] is None


async def test_prometheus_adds_job_queue_tenants_durations_and_deliveries(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    await create_tenant(client, owner, subdomain())
    response = await client.get("/metrics", headers=MONITORING)
    assert response.status_code == 200, response.text
    body = response.text
    assert 'saas_tenants{status="provisioning"} 1.0' in body
    assert 'saas_jobs{state="failed"} 0.0' in body
    assert 'saas_jobs{state="waiting"}' in body
    assert "saas_jobs_oldest_waiting_seconds" in body
    assert 'saas_operations_completed{operation="backup"} 0.0' in body
    assert 'saas_http_requests_total{method="POST",route="/api/v1/tenants"' in body
    assert "saas_webhook_deliveries_pending 0.0" in body
    endpoint = await client.post(
        "/api/v1/webhooks/endpoints",
        headers=owner.headers,
        json={"url": "http://127.0.0.1:9/in", "events": ["*"]},
    )
    assert endpoint.status_code == 201, endpoint.text
    ping = await client.post(
        f"/api/v1/webhooks/endpoints/{endpoint.json()['id']}/test", headers=owner.headers
    )
    assert ping.status_code in (200, 201, 202), ping.text
    after = (await client.get("/metrics", headers=MONITORING)).text
    assert 'saas_webhook_deliveries{status="pending"} 1.0' in after
    assert "saas_webhook_deliveries_pending 1.0" in after
    assert_envelope(await client.get("/metrics"), 401, "UNAUTHORIZED")
    assert_envelope(await client.get("/metrics", headers=owner.headers), 403, "FORBIDDEN")
