from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from saas_server import __version__
from saas_server.core.runtime import Runtime

# The detail is for operators (tests/health/test_monitoring_access.py): a monitoring token.
MONITORING = {"Authorization": "Bearer test-monitoring-token-0123456789abcdef"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"monitoring_token": MONITORING["Authorization"].removeprefix("Bearer ")}


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["timestamp"].endswith("Z")


async def test_detailed_reports_each_part(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/detailed", headers=MONITORING)
    assert response.status_code == 200
    parts = response.json()["components"]
    assert {"database", "job_queue", "workers", "odoo_hosts", "storage"} <= set(parts)
    for part in parts.values():
        assert "status" in part and "latency_ms" in part
    assert parts["database"]["status"] == "ok"


async def test_detailed_is_503_when_the_database_is_down(
    client: httpx.AsyncClient, runtime: Runtime, pg_server: str
) -> None:
    # Point the runtime's engine at a database that does not exist.
    from saas_server.core.db import Database, with_database

    broken = Database(with_database(pg_server, "no_such_database_here"))
    healthy, runtime.db = runtime.db, broken
    try:
        response = await client.get("/health/detailed", headers=MONITORING)
    finally:
        runtime.db = healthy
        await broken.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["components"]["database"]["status"] == "down"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/api/v1/auth/me")
    response = await client.get("/metrics", headers=MONITORING)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text_body = response.text
    assert 'saas_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text_body
    assert 'route="/api/v1/auth/me",status="401"' in text_body
    assert "saas_http_request_duration_seconds_bucket" in text_body


async def test_docs_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert "/api/v1/auth/token" in spec["paths"]


async def test_the_session_commits_before_the_response(runtime: Runtime) -> None:
    """Sanity check of the fixture database: migrations ran into the template."""
    async with runtime.db.engine.connect() as conn:
        tables = set(
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
        )
    assert {"users", "auth_sessions", "procrastinate_jobs", "alembic_version"} <= tables
