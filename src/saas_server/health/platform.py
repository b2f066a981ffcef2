"""Platform-wide figures read from the database: the job queue, tenants by status, how long
provisionings and backups take, and outbound webhook deliveries. Served by ``/metrics``
(Prometheus) and by the admin console's ``/api/v1/admin/metrics/platform``."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Durations are summarised over this window (recent behaviour, not all history).
DURATION_WINDOW_HOURS = 24 * 7


async def job_queue(conn: AsyncConnection) -> dict[str, Any]:
    """Jobs waiting (due), scheduled for later, running and failed, and how long the oldest
    due job has waited since it was deferred (procrastinate's own tables and clock)."""
    row = (
        await conn.execute(
            text(
                """
                SELECT
                  count(*) FILTER (WHERE status = 'todo'
                    AND (scheduled_at IS NULL OR scheduled_at <= now())) AS waiting,
                  count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()) AS scheduled,
                  count(*) FILTER (WHERE status = 'doing') AS running,
                  count(*) FILTER (WHERE status = 'failed') AS failed
                FROM procrastinate_jobs
                """
            )
        )
    ).one()
    oldest = (
        await conn.execute(
            text(
                """
                SELECT extract(epoch FROM now() - min(
                    greatest(coalesce(j.scheduled_at, e.at), e.at)))
                FROM procrastinate_jobs j
                JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
                WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
                """
            )
        )
    ).scalar_one()
    by_queue = (
        await conn.execute(
            text(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing', 'failed') GROUP BY queue_name, status"
            )
        )
    ).all()
    return {
        "waiting": row.waiting,
        "scheduled": row.scheduled,
        "running": row.running,
        "failed": row.failed,
        "oldest_waiting_seconds": round(float(oldest), 3) if oldest is not None else None,
        "by_queue": [{"queue": q, "status": s, "count": c} for q, s, c in by_queue],
    }


async def tenants_by(conn: AsyncConnection, column: str) -> dict[str, int]:
    """Live tenants counted by ``status`` or ``tier`` (deleted ones left out)."""
    assert column in ("status", "tier")
    rows = await conn.execute(
        text(
            f"SELECT {column}, count(*) FROM tenants "  # noqa: S608 (a fixed column name)
            "WHERE status <> 'deleted' GROUP BY 1 ORDER BY 1"
        )
    )
    return {key: count for key, count in rows.all()}


async def durations(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    """Provisioning (instance created -> ready) and backup (started -> completed) times in
    seconds over the recent window: count, p50, p95, max."""
    summary = """
        SELECT count(d), percentile_cont(0.5) WITHIN GROUP (ORDER BY d),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY d), max(d)
        FROM (SELECT extract(epoch FROM {end} - {start}) AS d FROM {table}
              WHERE {end} IS NOT NULL AND {start} IS NOT NULL
                AND {end} > now() - make_interval(hours => :hours)) AS recent
    """
    result: dict[str, dict[str, Any]] = {}
    for name, table, start, end in (
        ("provisioning", "instances", "created_at", "ready_at"),
        ("backup", "backups", "started_at", "completed_at"),
    ):
        count, p50, p95, longest = (
            await conn.execute(
                text(summary.format(table=table, start=start, end=end)),
                {"hours": DURATION_WINDOW_HOURS},
            )
        ).one()
        result[name] = {
            "count": count,
            "p50_seconds": _round(p50),
            "p95_seconds": _round(p95),
            "max_seconds": _round(longest),
        }
    return result


async def webhook_deliveries(conn: AsyncConnection) -> dict[str, Any]:
    """Outbound webhook deliveries made in the last 24 h by status, and every one still
    waiting for an attempt (the partial index on pending deliveries answers it)."""
    recent = (
        await conn.execute(
            text(
                "SELECT status, count(*) FROM webhook_deliveries "
                "WHERE created_at >= now() - interval '24 hours' GROUP BY status"
            )
        )
    ).all()
    pending = (
        await conn.execute(text("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"))
    ).scalar_one()
    return {"last_24h": {status: count for status, count in recent}, "pending": pending}


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


async def prometheus_text(conn: AsyncConnection) -> bytes:
    """The database's figures in Prometheus' text format (one scrape, read fresh)."""
    registry = CollectorRegistry(auto_describe=True)
    queue = await job_queue(conn)
    jobs = Gauge("saas_jobs", "Jobs in the queue by state.", ("state",), registry=registry)
    for state in ("waiting", "scheduled", "running", "failed"):
        jobs.labels(state).set(queue[state])
    Gauge(
        "saas_jobs_oldest_waiting_seconds",
        "How long the oldest due job has waited (0 when none waits).",
        registry=registry,
    ).set(queue["oldest_waiting_seconds"] or 0)
    by_queue = Gauge(
        "saas_jobs_by_queue", "Jobs by queue and state.", ("queue", "state"), registry=registry
    )
    for entry in queue["by_queue"]:
        by_queue.labels(entry["queue"], entry["status"]).set(entry["count"])
    tenants = Gauge("saas_tenants", "Tenants by status.", ("status",), registry=registry)
    for status, count in (await tenants_by(conn, "status")).items():
        tenants.labels(status).set(count)
    timing = Gauge(
        "saas_operation_duration_seconds",
        f"Provisioning and backup durations over the last {DURATION_WINDOW_HOURS} h.",
        ("operation", "quantile"),
        registry=registry,
    )
    done = Gauge(
        "saas_operations_completed",
        f"Provisionings and backups completed in the last {DURATION_WINDOW_HOURS} h.",
        ("operation",),
        registry=registry,
    )
    for operation, figures in (await durations(conn)).items():
        done.labels(operation).set(figures["count"])
        for quantile, key in (("0.5", "p50_seconds"), ("0.95", "p95_seconds")):
            if figures[key] is not None:
                timing.labels(operation, quantile).set(figures[key])
    deliveries = await webhook_deliveries(conn)
    by_status = Gauge(
        "saas_webhook_deliveries",
        "Outbound webhook deliveries made in the last 24 h, by status.",
        ("status",),
        registry=registry,
    )
    for status, count in deliveries["last_24h"].items():
        by_status.labels(status).set(count)
    Gauge(
        "saas_webhook_deliveries_pending",
        "Outbound webhook deliveries waiting for an attempt.",
        registry=registry,
    ).set(deliveries["pending"])
    return generate_latest(registry)
