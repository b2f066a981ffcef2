"""Tenant metrics: sampled from the emulator, stored as series, rolled up, shown to operators."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.monitoring.models import Granularity, MetricPoint
from saas_server.monitoring.sampling import prune, sample_all
from tests.fixtures.auth import LoggedIn, login, verified_user
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.cli import cli
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> Tenant:
    await add_host(client, admin, odoo)
    return await ready_tenant(client, runtime, owner, odoo)


def grow(tenant: Tenant, rows: int) -> None:
    """Write ``rows`` partners of 2 kB each into the tenant's database, through Odoo."""
    for start in range(0, rows, 50):
        batch = [{"name": f"Growth {start + i} " + "x" * 2000} for i in range(50)]
        tenant.call("res.partner", "create", batch)


async def raw_points(runtime: Runtime, tenant_id: str, metric: str) -> list[MetricPoint]:
    async with runtime.db.sessionmaker() as session:
        return list(
            (
                await session.execute(
                    select(MetricPoint)
                    .where(
                        MetricPoint.tenant_id == tenant_id,
                        MetricPoint.metric == metric,
                        MetricPoint.granularity == Granularity.RAW.value,
                    )
                    .order_by(MetricPoint.bucket_at)
                )
            ).scalars()
        )


async def test_a_growing_database_shows_in_the_series_and_the_hourly_mean_is_exact(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    clock: clock_module.FrozenClock,
) -> None:
    hour = clock_module.now().replace(minute=0, second=0) + timedelta(hours=1)
    clock.set(hour + timedelta(minutes=5))
    report = await sample_all(runtime)
    assert report.sampled == 1 and report.failed == 0
    for minutes in (20, 40):
        await asyncio.to_thread(grow, tenant, 300)
        clock.set(hour + timedelta(minutes=minutes))
        await sample_all(runtime)

    sizes = [p.value for p in await raw_points(runtime, tenant.id, "database_size_bytes")]
    assert len(sizes) == 3
    assert sizes[0] < sizes[1] < sizes[2], sizes
    # Odoo's own counts, through RPC: the administrator is the one internal user, and they
    # logged in (provisioning did) within the day.
    [users] = [p.value for p in await raw_points(runtime, tenant.id, "internal_users")][-1:]
    assert users == 1
    assert [p.value for p in await raw_points(runtime, tenant.id, "active_users")][-1] == 1
    assert [p.value for p in await raw_points(runtime, tenant.id, "db_connections")]

    # The hour closes: the next run rolls it up into the mean of its three raw points.
    clock.set(hour + timedelta(hours=1, minutes=1))
    await sample_all(runtime)
    owner = await login(client, owner.email)  # the clock moved past the first token
    response = await client.get(
        f"/api/v1/tenants/{tenant.id}/metrics",
        params={
            "metric": "database_size_bytes",
            "granularity": "hour",
            "date_from": clock_module.isoformat(hour - timedelta(hours=1)),
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    series = response.json()
    [point] = series["points"]
    assert point["at"] == clock_module.isoformat(hour)
    assert point["samples"] == 3
    assert point["value"] == pytest.approx(sum(sizes) / 3)
    assert point["min"] == sizes[0] and point["max"] == sizes[2]

    # Per minute: the raw samples, growing.
    minute = await client.get(
        f"/api/v1/tenants/{tenant.id}/metrics",
        params={
            "metric": "database_size_bytes",
            "granularity": "minute",
            "date_from": clock_module.isoformat(hour),
            "date_to": clock_module.isoformat(hour + timedelta(minutes=59)),
        },
        headers=owner.headers,
    )
    assert [p["value"] for p in minute.json()["points"]] == sizes

    # Rerunning the rollup changes nothing; the tenant's detail shows the latest values.
    await sample_all(runtime)
    again = await client.get(
        f"/api/v1/tenants/{tenant.id}/metrics",
        params={"metric": "database_size_bytes", "granularity": "hour"},
        headers=owner.headers,
    )
    assert again.json()["points"] == series["points"]
    detail = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)).json()
    assert detail["metrics"]["database_size_bytes"]["value"] >= sizes[2]
    listing = await client.get(f"/api/v1/tenants/{tenant.id}/metrics", headers=owner.headers)
    names = {m["name"]: m for m in listing.json()["metrics"]}
    assert names["database_size_bytes"]["latest"] >= sizes[2]
    assert names["backups_count"]["latest"] == 0


async def test_retention_prunes_raw_after_48_hours_and_keeps_the_rollups(
    runtime: Runtime, tenant: Tenant, clock: clock_module.FrozenClock
) -> None:
    hour = clock_module.now().replace(minute=0, second=0) + timedelta(hours=1)
    clock.set(hour + timedelta(minutes=10))
    await sample_all(runtime)
    clock.set(hour + timedelta(hours=1, minutes=1))
    await sample_all(runtime)  # rolls the first hour up

    async def kinds() -> dict[str, int]:
        async with runtime.db.sessionmaker() as session:
            rows = await session.execute(
                select(MetricPoint.granularity, func.count())
                .where(
                    MetricPoint.tenant_id == tenant.id,
                    MetricPoint.metric == "database_size_bytes",
                )
                .group_by(MetricPoint.granularity)
            )
            return {granularity: count for granularity, count in rows.all()}

    assert await kinds() == {"raw": 2, "hour": 1}
    clock.set(hour + timedelta(hours=49, minutes=30))
    async with runtime.db.transaction() as session:
        await prune(session, runtime, clock_module.now())
    assert await kinds() == {"hour": 1}
    clock.set(hour + timedelta(days=91))
    async with runtime.db.transaction() as session:
        await prune(session, runtime, clock_module.now())
    assert await kinds() == {}


async def test_metrics_are_for_the_tenants_operators_only(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    tenant: Tenant,
) -> None:
    path = f"/api/v1/tenants/{tenant.id}/metrics"
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    assert_envelope(await client.get(path, headers=stranger.headers), 404, "TENANT_NOT_FOUND")
    assert_envelope(await client.get(path), 401, "UNAUTHORIZED")
    assert (await client.get(path, headers=admin.headers)).status_code == 200
    bad = await client.get(path, params={"metric": "cpu_on_mars"}, headers=owner.headers)
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    bad = await client.get(
        path, params={"metric": "active_users", "granularity": "week"}, headers=owner.headers
    )
    assert_envelope(bad, 422, "VALIDATION_ERROR")


async def test_cli_samples_now(runtime: Runtime, tenant: Tenant) -> None:
    code, output = await asyncio.to_thread(cli, runtime, ["metrics", "sample"])
    assert code == 0, output
    assert "Sampled 1 instance(s), 0 failed" in output
    assert await raw_points(runtime, tenant.id, "database_size_bytes")
