"""``GET /api/v1/admin/metrics/platform``: the platform at a glance, for capacity planning.

Tenants, hosts, users, jobs and backups are read from the database (every API process
answers the same). API rates and latencies are this process's own (``core/metrics.py``
records them per process, since it started): behind a load balancer, each process tells
its share, and ``/metrics`` scraped from each is the way to sum them."""

from __future__ import annotations

import bisect
import time
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.backups.models import Backup, BackupStatus
from saas_server.core import clock
from saas_server.health import platform
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.users.models import User

REQUESTS = "saas_http_requests"
LATENCY = "saas_http_request_duration_seconds"


async def platform_metrics(
    session: AsyncSession, registry: CollectorRegistry, started_monotonic: float
) -> dict[str, Any]:
    conn = await session.connection()
    now = clock.now()
    live_instance = (Instance.kind == "production") & (
        Instance.status != InstanceStatus.DELETED.value
    )
    by_version = dict(
        (
            await session.execute(
                select(Instance.odoo_version, func.count())
                .where(live_instance)
                .group_by(Instance.odoo_version)
            )
        ).all()
    )
    by_host = dict(
        (
            await session.execute(
                select(func.coalesce(OdooHost.name, "(unplaced)"), func.count())
                .select_from(Instance)
                .outerjoin(OdooHost, OdooHost.id == Instance.host_id)
                .where(live_instance)
                .group_by(OdooHost.name)
            )
        ).all()
    )
    databases = (
        select(func.count())
        .where(Instance.host_id == OdooHost.id, Instance.status != InstanceStatus.DELETED.value)
        .correlate(OdooHost)
        .scalar_subquery()
    )
    hosts = [
        {
            "id": str(host.id),
            "name": host.name,
            "status": host.status,
            "odoo_version": host.odoo_version,
            "databases": count,
            "capacity": host.capacity,
            "utilization": round(count / host.capacity, 4) if host.capacity else None,
            "latency_ms": host.last_latency_ms,
            "last_checked_at": clock.isoformat(host.last_checked_at)
            if host.last_checked_at
            else None,
        }
        for host, count in (
            await session.execute(select(OdooHost, databases).order_by(OdooHost.name))
        ).all()
    ]

    async def users_since(span: timedelta) -> int:
        stmt = select(func.count()).select_from(User).where(User.last_login_at >= now - span)
        return int((await session.execute(stmt)).scalar_one())

    backups = (
        await session.execute(
            select(
                func.count().filter(Backup.status == BackupStatus.COMPLETED.value),
                func.coalesce(
                    func.sum(Backup.size_bytes).filter(
                        Backup.status == BackupStatus.COMPLETED.value
                    ),
                    0,
                ),
                func.count().filter(Backup.status == BackupStatus.FAILED.value),
                func.count().filter(
                    Backup.status == BackupStatus.FAILED.value,
                    Backup.created_at >= now - timedelta(hours=24),
                ),
            )
        )
    ).one()
    return {
        "generated_at": clock.isoformat(now),
        "tenants": {
            "by_status": await platform.tenants_by(conn, "status"),
            "by_tier": await platform.tenants_by(conn, "tier"),
            "by_version": by_version,
            "by_host": by_host,
        },
        "hosts": hosts,
        "users": {
            "total": int(
                (await session.execute(select(func.count()).select_from(User))).scalar_one()
            ),
            "active_24h": await users_since(timedelta(hours=24)),
            "active_7d": await users_since(timedelta(days=7)),
        },
        "jobs": await platform.job_queue(conn),
        "durations": await platform.durations(conn),
        "api": api_figures(registry, time.monotonic() - started_monotonic),
        "backups": {
            "count": backups[0],
            "bytes": int(backups[1] or 0),
            "failed": backups[2],
            "failed_24h": backups[3],
        },
    }


def api_figures(registry: CollectorRegistry, uptime_seconds: float) -> dict[str, Any]:
    """Requests, errors and latency quantiles of this process since it started, from the
    Prometheus registry the request pipeline fills (quantiles interpolated in buckets)."""
    total = server_errors = client_errors = 0.0
    buckets: dict[float, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == f"{REQUESTS}_total":
                total += sample.value
                status = sample.labels.get("status", "")
                if status.startswith("5"):
                    server_errors += sample.value
                elif status.startswith("4"):
                    client_errors += sample.value
            elif sample.name == f"{LATENCY}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    uptime = max(uptime_seconds, 1e-9)
    return {
        "window_seconds": round(uptime_seconds, 3),
        "requests": int(total),
        "requests_per_second": round(total / uptime, 4),
        "server_errors": int(server_errors),
        "client_errors": int(client_errors),
        "error_rate": round(server_errors / total, 6) if total else 0.0,
        "latency_p50_ms": _quantile_ms(buckets, 0.5),
        "latency_p95_ms": _quantile_ms(buckets, 0.95),
    }


def _quantile_ms(cumulative: dict[float, float], q: float) -> float | None:
    """The q-quantile of a cumulative histogram, linearly interpolated within its bucket
    (as Prometheus' ``histogram_quantile``); None without observations."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] == 0:
        return None
    counts = [cumulative[b] for b in bounds]
    rank = q * counts[-1]
    index = bisect.bisect_left(counts, rank)
    if bounds[index] == float("inf"):
        # Beyond the last finite bucket: its bound is the best lower estimate.
        return round(bounds[index - 1] * 1000, 3) if index > 0 else None
    lower = bounds[index - 1] if index > 0 else 0.0
    below = counts[index - 1] if index > 0 else 0.0
    inside = counts[index] - below
    fraction = (rank - below) / inside if inside else 1.0
    return round((lower + (bounds[index] - lower) * fraction) * 1000, 3)
