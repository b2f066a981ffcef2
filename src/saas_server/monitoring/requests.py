"""Writing each API process's per-tenant request counts and latency as metric points.

Requests are counted in memory (``core.metrics.TenantRequests``, fed by the request
pipeline); every ``metrics_request_flush_seconds`` each process writes what it counted since
its last flush as raw points in the current minute, so no request costs a database write.
Processes flushing into the same minute add up: counts are summed, the mean latency is
weighted by the requests each process saw. Points of tenants that do not exist (any more)
are not written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime

from sqlalchemy import text

from saas_server.core import clock
from saas_server.core.metrics import TenantRequests, TenantRequestTally
from saas_server.core.runtime import Runtime

logger = logging.getLogger(__name__)

# Counted per bucket: their rollups sum (a day's requests), where others average.
SUMMED_METRICS = ("api_requests", "api_errors")

# One point per tenant and metric and minute; a second flush into that minute merges.
_UPSERT = """
INSERT INTO tenant_metric_points
    (id, tenant_id, instance_id, metric, granularity, bucket_at, value, min_value, max_value,
     samples)
SELECT gen_random_uuid(), t.id, NULL, :metric, 'raw', :bucket_at, :value, :min_value,
       :max_value, :samples
FROM tenants t WHERE t.id = :tenant_id
ON CONFLICT (tenant_id, metric, granularity, bucket_at) DO UPDATE SET
    value = CASE WHEN excluded.metric IN ('api_requests', 'api_errors')
                 THEN tenant_metric_points.value + excluded.value
                 ELSE (tenant_metric_points.value * tenant_metric_points.samples
                       + excluded.value * excluded.samples)
                      / (tenant_metric_points.samples + excluded.samples) END,
    min_value = CASE WHEN excluded.metric IN ('api_requests', 'api_errors')
                     THEN tenant_metric_points.value + excluded.value
                     ELSE least(tenant_metric_points.min_value, excluded.min_value) END,
    max_value = CASE WHEN excluded.metric IN ('api_requests', 'api_errors')
                     THEN tenant_metric_points.value + excluded.value
                     ELSE greatest(tenant_metric_points.max_value, excluded.max_value) END,
    samples = CASE WHEN excluded.metric IN ('api_requests', 'api_errors')
                   THEN 1 ELSE tenant_metric_points.samples + excluded.samples END
"""


def _rows(
    tenant_id: uuid.UUID, tally: TenantRequestTally, bucket_at: datetime
) -> list[dict[str, object]]:
    mean_ms = tally.seconds_total / tally.requests * 1000
    rows: list[dict[str, object]] = [
        {
            "metric": metric,
            "value": float(count),
            "min_value": float(count),
            "max_value": float(count),
            "samples": 1,
        }
        for metric, count in (("api_requests", tally.requests), ("api_errors", tally.errors))
    ]
    rows.append(
        {
            "metric": "api_latency_ms",
            "value": mean_ms,
            "min_value": tally.seconds_min * 1000,
            "max_value": tally.seconds_max * 1000,
            # The mean's weight: rollups and merges weigh it by the requests behind it.
            "samples": tally.requests,
        }
    )
    return [{**row, "tenant_id": tenant_id, "bucket_at": bucket_at} for row in rows]


async def flush_tenant_requests(runtime: Runtime, counter: TenantRequests) -> int:
    """Write what ``counter`` holds as points of the current minute; the points written.
    If the write fails, the figures are put back for the next flush."""
    pending = counter.drain()
    if not pending:
        return 0
    bucket_at = clock.now().replace(second=0, microsecond=0)
    rows = [
        row for tenant_id, tally in pending.items() for row in _rows(tenant_id, tally, bucket_at)
    ]
    try:
        async with runtime.db.transaction() as session:
            written = 0
            for row in rows:
                result = await session.execute(text(_UPSERT), row)
                written += int(getattr(result, "rowcount", 0) or 0)
    except Exception:
        counter.restore(pending)
        raise
    return written


async def flush_periodically(runtime: Runtime, counter: TenantRequests, interval: float) -> None:
    """The API process's flush loop (started by its lifespan); a last flush on cancel."""
    try:
        while True:
            await asyncio.sleep(interval)
            try:
                await flush_tenant_requests(runtime, counter)
            except Exception:  # the database's trouble: the figures wait for the next try
                logger.warning("metrics: tenant request figures not flushed", exc_info=True)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(flush_tenant_requests(runtime, counter))
