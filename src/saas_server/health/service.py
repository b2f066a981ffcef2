"""Checks of each part the platform depends on, each with a status and a latency."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

from sqlalchemy import text

from saas_server.core import clock
from saas_server.core.runtime import Runtime

WORKER_HEARTBEAT_STALE_SECONDS = 60


async def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(check(), timeout=5)
        status = result.pop("status", "ok")
    except Exception as exc:  # a failing dependency is a reported status, not a 500
        result, status = {"error": type(exc).__name__}, "down"
    result["status"] = status
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


async def detailed_health(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    async def database() -> dict[str, Any]:
        async with runtime.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {}

    async def job_queue() -> dict[str, Any]:
        async with runtime.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*) FILTER (WHERE status = 'todo') AS waiting, "
                        "count(*) FILTER (WHERE status = 'doing') AS running, "
                        "count(*) FILTER (WHERE status = 'failed') AS failed "
                        "FROM procrastinate_jobs"
                    )
                )
            ).one()
        return {"waiting": row.waiting, "running": row.running, "failed": row.failed}

    async def workers() -> dict[str, Any]:
        async with runtime.db.engine.connect() as conn:
            alive = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM procrastinate_workers "
                        "WHERE last_heartbeat > now() - make_interval(secs => :secs)"
                    ),
                    {"secs": WORKER_HEARTBEAT_STALE_SECONDS},
                )
            ).scalar_one()
        return {"alive": alive, "status": "ok" if alive else "degraded"}

    async def storage() -> dict[str, Any]:
        data_dir = runtime.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(data_dir)
        return {
            "path": str(data_dir.resolve()),
            "free_bytes": usage.free,
            "status": "ok" if usage.free > 512 * 1024 * 1024 else "degraded",
        }

    async def odoo_hosts() -> dict[str, Any]:
        # The status the periodic check recorded: no master-password check is spent here.
        async with runtime.db.engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT name, status, odoo_version FROM odoo_hosts"))
            ).all()
        hosts = [{"name": r.name, "status": r.status, "odoo_version": r.odoo_version} for r in rows]
        if not hosts:
            return {"status": "not_configured", "hosts": []}
        usable = any(h["status"] in ("healthy", "degraded") for h in hosts)
        return {"status": "ok" if usable else "degraded", "hosts": hosts}

    async def redis() -> dict[str, Any]:
        # The rate-limit counters. Not a required part: while Redis is down the API lets
        # requests through unchecked, so the platform is degraded, not down (no 503).
        if await runtime.rate_limiter.healthy():
            return {}
        return {"status": "down", "error": "unreachable"}

    checks = [database, job_queue, workers, storage, odoo_hosts]
    names = ["database", "job_queue", "workers", "storage", "odoo_hosts"]
    if runtime.settings.redis_url:
        checks.append(redis)
        names.append("redis")
    results = await asyncio.gather(*(_timed(c) for c in checks))
    components = dict(zip(names, results, strict=True))
    required_ok = all(components[name]["status"] != "down" for name in ("database", "job_queue"))
    degraded = any(c["status"] in ("degraded", "down") for c in components.values())
    overall = "down" if not required_ok else ("degraded" if degraded else "ok")
    return required_ok, {
        "status": overall,
        "timestamp": clock.isoformat(clock.now()),
        "components": components,
    }
