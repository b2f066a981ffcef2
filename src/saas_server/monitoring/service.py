"""Reading tenant metrics: the latest values, the series, the list of what is sampled."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import ValidationFailed
from saas_server.monitoring.models import Granularity, MetricPoint
from saas_server.monitoring.sampling import METRICS


async def latest_values(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each tenant's newest raw value of each metric, for a whole page at once."""
    if not tenant_ids:
        return {}
    rows = await session.execute(
        select(MetricPoint.tenant_id, MetricPoint.metric, MetricPoint.value, MetricPoint.bucket_at)
        .where(
            MetricPoint.tenant_id.in_(tenant_ids),
            MetricPoint.granularity == Granularity.RAW.value,
        )
        .ext(distinct_on(MetricPoint.tenant_id, MetricPoint.metric))
        .order_by(MetricPoint.tenant_id, MetricPoint.metric, MetricPoint.bucket_at.desc())
    )
    latest: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        latest.setdefault(row.tenant_id, {})[row.metric] = {
            "value": row.value,
            "at": row.bucket_at,
        }
    return latest


async def latest_for_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any]:
    """What a tenant's detail shows of its resource usage (the ``tenant_metrics`` provider)."""
    latest = (await latest_values(session, [tenant_id])).get(tenant_id, {})
    return {
        metric: {"value": point["value"], "at": clock.isoformat(point["at"])}
        for metric, point in sorted(latest.items())
    }


# The span a series covers when the caller gives no date_from, per granularity.
DEFAULT_SPANS = {
    "minute": timedelta(hours=6),
    "hour": timedelta(days=7),
    "day": timedelta(days=90),
}


async def series(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    metric: str,
    granularity: str,
    date_from: datetime | None,
    date_to: datetime | None,
) -> dict[str, Any]:
    """One metric's points over a range: per minute (means of the raw samples of each
    minute), or the stored hourly or daily rollups (complete hours and days only)."""
    if metric not in METRICS:
        raise ValidationFailed.for_field(
            "metric", f"Unknown metric; known: {', '.join(sorted(METRICS))}."
        )
    until = date_to or clock.now()
    since = date_from or until - DEFAULT_SPANS[granularity]
    if since > until:
        raise ValidationFailed.for_field("date_from", "Must not be after date_to.")
    where = (
        MetricPoint.tenant_id == tenant_id,
        MetricPoint.metric == metric,
        MetricPoint.bucket_at >= since,
        MetricPoint.bucket_at <= until,
    )
    if granularity == "minute":
        bucket = func.date_trunc("minute", MetricPoint.bucket_at, "UTC").label("bucket")
        stmt = (
            select(
                bucket,
                func.avg(MetricPoint.value),
                func.min(MetricPoint.min_value),
                func.max(MetricPoint.max_value),
                func.count(),
            )
            .where(*where, MetricPoint.granularity == Granularity.RAW.value)
            .group_by(bucket)
            .order_by(bucket)
        )
    else:
        stmt = (
            select(
                MetricPoint.bucket_at,
                MetricPoint.value,
                MetricPoint.min_value,
                MetricPoint.max_value,
                MetricPoint.samples,
            )
            .where(*where, MetricPoint.granularity == granularity)
            .order_by(MetricPoint.bucket_at)
        )
    rows = (await session.execute(stmt)).all()
    return {
        "metric": metric,
        "unit": METRICS[metric],
        "granularity": granularity,
        "date_from": clock.isoformat(since),
        "date_to": clock.isoformat(until),
        "points": [
            {
                "at": clock.isoformat(at),
                "value": float(value),
                "min": float(low),
                "max": float(high),
                "samples": int(samples),
            }
            for at, value, low, high, samples in rows
        ],
    }


async def metric_list(session: AsyncSession, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every metric a tenant can have, with its unit and latest value (null: not sampled)."""
    latest = (await latest_values(session, [tenant_id])).get(tenant_id, {})
    return [
        {
            "name": name,
            "unit": unit,
            "latest": latest[name]["value"] if name in latest else None,
            "at": clock.isoformat(latest[name]["at"]) if name in latest else None,
        }
        for name, unit in METRICS.items()
    ]
