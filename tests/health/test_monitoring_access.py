"""/health is public; /health/detailed and /metrics show operators' data (paths, free disk,
host names, queue sizes) to platform admins and to the configured monitoring token only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope

MONITORING_TOKEN = "scraper-token-0123456789abcdef0123456789"
DETAIL = ("/health/detailed", "/metrics")


async def test_liveness_stays_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("path", DETAIL)
async def test_anonymous_callers_get_no_detail(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert_envelope(response, 401, "UNAUTHORIZED")
    assert "free_bytes" not in response.text and "saas_http_requests" not in response.text


@pytest.mark.parametrize("path", DETAIL)
async def test_users_who_are_not_platform_admins_get_no_detail(
    client: httpx.AsyncClient, owner: LoggedIn, path: str
) -> None:
    assert_envelope(await client.get(path, headers=owner.headers), 403, "FORBIDDEN")


async def test_platform_admins_read_the_detail(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    detailed = await client.get("/health/detailed", headers=admin.headers)
    assert detailed.status_code == 200
    assert "database" in detailed.json()["components"]
    metrics = await client.get("/metrics", headers=admin.headers)
    assert metrics.status_code == 200
    assert "saas_http_requests" in metrics.text


@pytest.mark.parametrize("settings_overrides", [{"monitoring_token": MONITORING_TOKEN}])
async def test_the_configured_monitoring_token_reads_the_detail(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    bearer = {"Authorization": f"Bearer {MONITORING_TOKEN}"}
    assert (await client.get("/health/detailed", headers=bearer)).status_code == 200
    assert (await client.get("/metrics", headers=bearer)).status_code == 200
    wrong = {"Authorization": f"Bearer {MONITORING_TOKEN[:-1]}x"}
    assert_envelope(await client.get("/metrics", headers=wrong), 401, "UNAUTHORIZED")
