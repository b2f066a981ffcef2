"""Requests per tenant: counted in memory by each API process, flushed as metric points,
rolled up (counts summed, latency weighted by requests), and exported to /metrics with a
bounded label set."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from saas_server.core import clock as clock_module
from saas_server.core.metrics import TENANT_LABEL_LIMIT, TenantRequests
from saas_server.core.runtime import Runtime
from saas_server.monitoring.models import Granularity, MetricPoint
from saas_server.monitoring.requests import flush_tenant_requests
from saas_server.monitoring.sampling import roll_up
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Serving processes flush often here (ASGI test clients run no lifespan: no flush loop).
    return {"metrics_request_flush_seconds": 0.2}


def counter_of(app: FastAPI) -> TenantRequests:
    return app.state.metrics.tenants  # type: ignore[no-any-return]


async def points(
    runtime: Runtime, tenant_id: str, metric: str, granularity: str
) -> list[MetricPoint]:
    async with runtime.db.sessionmaker() as session:
        return list(
            (
                await session.execute(
                    select(MetricPoint)
                    .where(
                        MetricPoint.tenant_id == tenant_id,
                        MetricPoint.metric == metric,
                        MetricPoint.granularity == granularity,
                    )
                    .order_by(MetricPoint.bucket_at)
                )
            ).scalars()
        )


async def test_a_tenants_requests_are_counted_flushed_and_shown(
    client: httpx.AsyncClient,
    app: FastAPI,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    clock: clock_module.FrozenClock,
) -> None:
    tenant = await create_tenant(client, owner, "acme")
    other = await create_tenant(client, owner, "globex")
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    for _ in range(3):
        assert (
            await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
        ).status_code == 200
    assert (
        await client.get(f"/api/v1/tenants/{other['id']}", headers=owner.headers)
    ).status_code == 200
    # Refused or unknown to the caller: not the tenant's traffic.
    assert (
        await client.get(f"/api/v1/tenants/{tenant['id']}", headers=stranger.headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/tenants/{tenant['id']}")).status_code == 401
    # Nothing is written per request: the points appear with the flush.
    assert await points(runtime, tenant["id"], "api_requests", "raw") == []
    written = await flush_tenant_requests(runtime, counter_of(app))
    assert written == 6  # two tenants x (requests, errors, latency)

    # A second API process flushing into the same minute adds up.
    second = TenantRequests(CollectorRegistry())
    second.observe(tenant["id"], 200, 0.5)
    second.observe(tenant["id"], 500, 1.5)
    own = (await points(runtime, tenant["id"], "api_latency_ms", "raw"))[0]
    await flush_tenant_requests(runtime, second)

    requests = await points(runtime, tenant["id"], "api_requests", "raw")
    assert [p.value for p in requests] == [5.0]
    assert [p.value for p in await points(runtime, tenant["id"], "api_errors", "raw")] == [1.0]
    latency = (await points(runtime, tenant["id"], "api_latency_ms", "raw"))[0]
    assert latency.samples == 5
    assert latency.value == pytest.approx((own.value * 3 + 500 + 1500) / 5)
    assert latency.max_value == pytest.approx(1500)
    assert [p.value for p in await points(runtime, other["id"], "api_requests", "raw")] == [1.0]

    path = f"/api/v1/tenants/{tenant['id']}/metrics"
    listed = (await client.get(path, headers=owner.headers)).json()["metrics"]
    by_name = {m["name"]: m for m in listed}
    assert by_name["api_requests"]["latest"] == 5.0
    assert by_name["api_latency_ms"]["unit"].startswith("milliseconds")
    series = (
        await client.get(
            path, params={"metric": "api_requests", "granularity": "minute"}, headers=owner.headers
        )
    ).json()
    assert [p["value"] for p in series["points"]] == [5.0]

    scrape = await client.get("/metrics", headers=admin.headers)
    assert scrape.status_code == 200
    # The three reads above and the two metrics reads; the 401 and the 404 are not counted.
    assert (
        f'saas_tenant_http_requests_total{{status_class="2xx",tenant="{tenant["id"]}"}} 5.0'
        in scrape.text
    )
    assert (
        f'saas_tenant_http_requests_total{{status_class="2xx",tenant="{other["id"]}"}} 1.0'
        in scrape.text
    )
    assert 'saas_tenant_http_requests_total{status_class="4xx"' not in scrape.text
    # The flushed figures are gone from memory: a flush with nothing new writes nothing,
    # except the metrics reads made since (they are the tenant's requests too).
    counter_of(app).drain()
    assert await flush_tenant_requests(runtime, counter_of(app)) == 0


async def test_rollups_sum_the_counts_and_weigh_latency_by_requests(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    clock: clock_module.FrozenClock,
) -> None:
    tenant = await create_tenant(client, owner, "acme")
    hour = clock_module.now().replace(minute=0, second=0) + timedelta(hours=1)
    counter = TenantRequests(CollectorRegistry())
    for minute, calls in ((5, [0.1, 0.1, 0.1, 0.1]), (35, [0.6])):
        clock.set(hour + timedelta(minutes=minute, seconds=10))
        for seconds in calls:
            counter.observe(tenant["id"], 200, seconds)
        await flush_tenant_requests(runtime, counter)
    clock.set(hour + timedelta(days=1, hours=1))
    async with runtime.db.transaction() as session:
        await roll_up(session, runtime, clock_module.now())

    hourly = await points(runtime, tenant["id"], "api_requests", Granularity.HOUR.value)
    assert [(p.bucket_at, p.value, p.max_value) for p in hourly] == [(hour, 5.0, 4.0)]
    latency = await points(runtime, tenant["id"], "api_latency_ms", Granularity.HOUR.value)
    # (4 x 100 ms + 1 x 600 ms) / 5 requests, not the mean of the two minutes' means.
    assert latency[0].value == pytest.approx(200.0)
    assert latency[0].samples == 5
    daily = await points(runtime, tenant["id"], "api_requests", Granularity.DAY.value)
    assert [p.value for p in daily] == [5.0]
    assert (await points(runtime, tenant["id"], "api_latency_ms", Granularity.DAY.value))[
        0
    ].value == pytest.approx(200.0)


def test_the_prometheus_labels_are_bounded_and_refusals_are_not_attributed() -> None:
    registry = CollectorRegistry()
    counter = TenantRequests(registry)
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(TENANT_LABEL_LIMIT + 5)]
    for tenant_id in ids:
        counter.observe(tenant_id, 200, 0.01)
    counter.observe(ids[0], 404, 0.01)
    counter.observe(ids[0], 403, 0.01)
    counter.observe("not-a-uuid", 200, 0.01)
    labels = {
        sample.labels["tenant"]
        for metric in registry.collect()
        if metric.name == "saas_tenant_http_requests"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    assert len(labels) == TENANT_LABEL_LIMIT + 1
    assert "other" in labels
    assert (
        registry.get_sample_value(
            "saas_tenant_http_requests_total", {"tenant": "other", "status_class": "2xx"}
        )
        == 5.0
    )
    pending = counter.drain()
    assert len(pending) == TENANT_LABEL_LIMIT + 5
    assert all(tally.requests == 1 for tally in pending.values())


@pytest.mark.slow
async def test_a_serving_process_flushes_on_its_own(
    live_server: str, runtime: Runtime, inbox: Inbox
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as live:
        owner = await verified_user(live, runtime, inbox, "live-owner@example.com")
        tenant = await create_tenant(live, owner, "acme")
        for _ in range(2):
            response = await live.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
            assert response.status_code == 200
        # The loop flushes every 0.2 s, so the two requests may land in one flush or in two
        # (CI saw the second one arrive in the next flush); the deadline only bounds a failure
        # (a loaded CI machine once took longer than 10 s).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30

        async def flushed() -> float:
            return sum(p.value for p in await points(runtime, tenant["id"], "api_requests", "raw"))

        while await flushed() < 2.0:
            assert loop.time() < deadline, "never flushed both requests"
            await asyncio.sleep(0.1)
        # Several more flushes later, still exactly two: nothing is written twice.
        await asyncio.sleep(1.0)
        assert await flushed() == 2.0
