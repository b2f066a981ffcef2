"""Reading tenant metrics: the latest values, the series, the list of what is sampled."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.monitoring.models import Granularity, MetricPoint


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
