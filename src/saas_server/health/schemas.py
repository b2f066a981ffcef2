from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from saas_server.core.schemas import Schema


class HealthDetailed(Schema):
    """Each part's status (``GET /health/detailed``): ``down`` when a required part (the
    database, the job queue) is, ``degraded`` when any other part is not ``ok``."""

    status: Literal["ok", "degraded", "down"]
    version: str = Field(examples=["0.1.0"])
    timestamp: str = Field(examples=["2026-01-15T09:30:00Z"])
    components: dict[str, dict[str, Any]] = Field(
        description="Per part (database, job_queue, workers, storage, odoo_hosts, redis): "
        "its ``status``, the time its check took, and what it found",
        examples=[
            {
                "database": {"status": "ok", "latency_ms": 1.2},
                "job_queue": {"status": "ok", "waiting": 0, "running": 1, "failed": 0},
                "workers": {"status": "ok", "alive": 1},
            }
        ],
    )
