"""Sampling each ready instance into time series, rolling them up, and pruning them.

Points are raw samples (kept ``metrics_raw_retention_hours``), hourly means of the raw
points of each complete hour (kept ``metrics_hourly_retention_days``) and daily means of the
hourly ones, weighted by how many raw samples each averages (kept
``metrics_daily_retention_days``). A rollup is recomputed from its source on every run, for
the buckets whose source is wholly retained: rerunning it changes nothing, and a late
sample still lands in its hour.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.backups.models import Backup, BackupStatus
from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.monitoring.models import Granularity, MetricPoint
from saas_server.odoo.driver import Credentials
from saas_server.odoo.errors import OdooError

logger = logging.getLogger(__name__)

# An internal user counts as active when they logged in within this window.
ACTIVE_USER_WINDOW = timedelta(hours=24)

# Every metric a tenant may have, with its unit (what GET .../metrics lists).
METRICS: dict[str, str] = {
    "database_size_bytes": "bytes",
    "filestore_size_bytes": "bytes",
    "internal_users": "users",
    "active_users": "users",
    "db_connections": "connections",
    "db_xact_commit": "transactions (cumulative)",
    "db_xact_rollback": "transactions (cumulative)",
    "db_blks_read": "blocks (cumulative)",
    "db_blks_hit": "blocks (cumulative)",
    "db_tup_returned": "rows (cumulative)",
    "db_tup_fetched": "rows (cumulative)",
    "db_tup_inserted": "rows (cumulative)",
    "db_tup_updated": "rows (cumulative)",
    "db_tup_deleted": "rows (cumulative)",
    "backups_count": "backups",
    "backups_bytes": "bytes",
    # Requests the platform served about or for the tenant (monitoring/requests.py).
    "api_requests": "requests (per bucket)",
    "api_errors": "requests answered 5xx (per bucket)",
    "api_latency_ms": "milliseconds (mean per request)",
}

# pg_stat_database column -> metric name.
STAT_METRICS = {
    "numbackends": "db_connections",
    "xact_commit": "db_xact_commit",
    "xact_rollback": "db_xact_rollback",
    "blks_read": "db_blks_read",
    "blks_hit": "db_blks_hit",
    "tup_returned": "db_tup_returned",
    "tup_fetched": "db_tup_fetched",
    "tup_inserted": "db_tup_inserted",
    "tup_updated": "db_tup_updated",
    "tup_deleted": "db_tup_deleted",
}


@dataclass(frozen=True)
class SampleReport:
    sampled: int
    failed: int
    points: int


async def sample_instance(
    runtime: Runtime, instance: Instance, host: OdooHost, now: datetime
) -> dict[str, float]:
    """What is real for one instance now: each value the host can tell, none invented."""
    values: dict[str, float] = {}
    driver = driver_for(runtime, host)
    try:
        size = await driver.size(instance.database_name)
        if size is not None:
            values["database_size_bytes"] = size
        filestore = await driver.filestore_size(instance.database_name)
        if filestore is not None:
            values["filestore_size_bytes"] = filestore
        stats = await driver.database_stats(instance.database_name)
        for column, value in (stats or {}).items():
            values[STAT_METRICS[column]] = value
        credentials = Credentials(
            instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
        )
        activity = await driver.user_activity(
            instance.database_name, credentials, now - ACTIVE_USER_WINDOW
        )
        values["internal_users"] = activity.internal_users
        values["active_users"] = activity.active_users
    finally:
        await driver.close()
    return values


async def _backup_values(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, float]:
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Backup.size_bytes), 0)).where(
                Backup.tenant_id == tenant_id, Backup.status == BackupStatus.COMPLETED.value
            )
        )
    ).one()
    return {"backups_count": float(row[0] or 0), "backups_bytes": float(row[1] or 0)}


async def record_points(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    instance_id: uuid.UUID | None,
    at: datetime,
    values: dict[str, float],
) -> int:
    """Raw points at ``at``; a second sample at the same instant replaces the first."""
    for metric, value in values.items():
        stmt = insert(MetricPoint).values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            instance_id=instance_id,
            metric=metric,
            granularity=Granularity.RAW.value,
            bucket_at=at,
            value=float(value),
            min_value=float(value),
            max_value=float(value),
            samples=1,
        )
        await session.execute(
            stmt.on_conflict_do_update(
                constraint="uq_tenant_metric_points_tenant_id",
                set_={
                    "value": stmt.excluded.value,
                    "min_value": stmt.excluded.min_value,
                    "max_value": stmt.excluded.max_value,
                    "instance_id": stmt.excluded.instance_id,
                },
            )
        )
    return len(values)


async def sample_all(runtime: Runtime) -> SampleReport:
    """Sample every ready instance, then roll up and prune. One instance's failure is
    logged and skipped: the others are still sampled."""
    now = clock.now()
    async with runtime.db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Instance, OdooHost)
                .join(OdooHost, OdooHost.id == Instance.host_id)
                .where(Instance.status == InstanceStatus.READY.value)
                .order_by(Instance.created_at)
            )
        ).all()
    sampled = failed = points = 0
    for instance, host in rows:
        try:
            values = await sample_instance(runtime, instance, host, now)
        except (OdooError, OSError) as exc:
            failed += 1
            logger.warning(
                "metrics: cannot sample instance %s: %s",
                instance.id,
                exc,
                extra={"instance_id": str(instance.id), "tenant_id": str(instance.tenant_id)},
            )
            values = {}
        else:
            sampled += 1
        async with runtime.db.transaction() as session:
            values.update(await _backup_values(session, instance.tenant_id))
            points += await record_points(session, instance.tenant_id, instance.id, now, values)
    async with runtime.db.transaction() as session:
        await roll_up(session, runtime, now)
        await prune(session, runtime, now)
    return SampleReport(sampled=sampled, failed=failed, points=points)


# ``{unit}`` is "hour" or "day" (never input): one literal, so GROUP BY matches the select.
_ROLLUP = """
    INSERT INTO tenant_metric_points
        (id, tenant_id, instance_id, metric, granularity, bucket_at, value, min_value,
         max_value, samples)
    SELECT gen_random_uuid(), tenant_id, (array_agg(instance_id ORDER BY bucket_at DESC))[1],
           metric, :target, date_trunc('{unit}', bucket_at, 'UTC'),
           CASE WHEN metric IN ('api_requests', 'api_errors') THEN sum(value)
                ELSE sum(value * samples) / sum(samples) END,
           min(min_value), max(max_value),
           CASE WHEN metric IN ('api_requests', 'api_errors') THEN count(*)
                ELSE sum(samples) END
    FROM tenant_metric_points
    WHERE granularity = :source
      AND bucket_at >= :since AND bucket_at < :until
    GROUP BY tenant_id, metric, date_trunc('{unit}', bucket_at, 'UTC')
    ON CONFLICT (tenant_id, metric, granularity, bucket_at) DO UPDATE
    SET value = excluded.value, min_value = excluded.min_value,
        max_value = excluded.max_value, samples = excluded.samples,
        instance_id = excluded.instance_id
"""


def _floor(moment: datetime, unit: str) -> datetime:
    moment = moment.astimezone(UTC)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def roll_up(session: AsyncSession, runtime: Runtime, now: datetime) -> None:
    """Hourly points from the raw ones of each complete hour still wholly retained, then
    daily points from the hourly ones the same way."""
    settings = runtime.settings
    raw_kept_since = now - timedelta(hours=settings.metrics_raw_retention_hours)
    hourly_kept_since = now - timedelta(days=settings.metrics_hourly_retention_days)
    for source, target, unit, kept_since in (
        (Granularity.RAW, Granularity.HOUR, "hour", raw_kept_since),
        (Granularity.HOUR, Granularity.DAY, "day", hourly_kept_since),
    ):
        # The first whole bucket after the retention edge, up to the current (open) one.
        since = _floor(kept_since, unit)
        if since < kept_since:
            since += timedelta(hours=1) if unit == "hour" else timedelta(days=1)
        await session.execute(
            text(_ROLLUP.format(unit=unit)),
            {
                "target": target.value,
                "source": source.value,
                "since": since,
                "until": _floor(now, unit),
            },
        )


async def prune(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    settings = runtime.settings
    limits = {
        Granularity.RAW: now - timedelta(hours=settings.metrics_raw_retention_hours),
        Granularity.HOUR: now - timedelta(days=settings.metrics_hourly_retention_days),
        Granularity.DAY: now - timedelta(days=settings.metrics_daily_retention_days),
    }
    result = await session.execute(
        delete(MetricPoint).where(
            or_(
                *(
                    and_(MetricPoint.granularity == g.value, MetricPoint.bucket_at < limit)
                    for g, limit in limits.items()
                )
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def describe(report: SampleReport) -> dict[str, Any]:
    return {"sampled": report.sampled, "failed": report.failed, "points": report.points}
