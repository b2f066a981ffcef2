"""The IP block list: every /api route refuses a blocked address on every API process
(two real servers on one database; with Redis too when SAAS_TEST_REDIS_URL is set), and a
block lifts when removed or when it expires on the injected clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.security.middleware import block_list_of
from saas_server.security.models import SecurityEvent
from saas_server.security.threats import detect_threats
from tests.fixtures.auth import LoggedIn
from tests.fixtures.live_server import running_server

HTTP_TIMEOUT = httpx.Timeout(60.0)
# Every API process must follow a change within this (polled).
PROPAGATION_SECONDS = 5.0
LIVE_IP = "127.0.0.1"  # where the tests' requests to the live servers come from


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The polling below must not run into the anonymous budget of the servers' one address;
    # refusals are written twice a second (the tests wait for them).
    return {
        "rate_limit_anonymous": "10000/hour",
        "rate_limit_login": "1000/minute",
        "security_refusal_flush_seconds": 0.5,
    }


@pytest.fixture
async def servers(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    with running_server(settings) as first, running_server(settings) as second:
        async with (
            httpx.AsyncClient(base_url=first, timeout=HTTP_TIMEOUT) as one,
            httpx.AsyncClient(base_url=second, timeout=HTTP_TIMEOUT) as two,
        ):
            yield [one, two]


async def _wait_for_status(client: httpx.AsyncClient, path: str, status: int) -> httpx.Response:
    deadline = time.monotonic() + PROPAGATION_SECONDS
    while True:
        response = await client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.05)


async def test_stuffing_then_block_ip_refuses_that_ip_on_every_process(
    servers: list[httpx.AsyncClient],
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: LoggedIn,
    clock: FrozenClock,
) -> None:
    one, two = servers
    # 50 wrong logins over 10 accounts from one IP, spread over both processes.
    for attempt in range(5):
        for n in range(10):
            server = one if n % 2 else two
            response = await server.post(
                "/api/v1/auth/login",
                json={"email": f"user{n}@example.com", "password": f"wrong-{attempt}"},
            )
            assert response.status_code in (401, 429), response.text
    async with runtime.db.transaction() as session:
        report = await detect_threats(session, runtime.settings)
    assert [(t.type, t.subject) for t in report.filed] == [("credential_stuffing", LIVE_IP)]
    threat_id = report.filed[0].id

    # Blocked for an hour, by an admin calling from another address.
    response = await client.post(
        f"/api/v1/security/threats/{threat_id}/actions",
        json={"action": "block_ip", "duration_seconds": 3600},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    for server in (one, two):
        refused = await _wait_for_status(server, "/api/v1/auth/me", 403)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "FORBIDDEN"
        # Every /api route, whatever its method, and before any credential is checked.
        login = await server.post(
            "/api/v1/auth/login", json={"email": "user1@example.com", "password": "x"}
        )
        assert login.status_code == 403
        assert (await server.get("/api/v1/nowhere")).status_code == 403
        # Outside /api nothing changes.
        assert (await server.get("/health")).status_code == 200

    listed = await client.get("/api/v1/security/blocked-ips", headers=admin.headers)
    assert listed.status_code == 200
    [entry] = listed.json()["results"]
    assert entry["ip"] == f"{LIVE_IP}/32"
    assert entry["threat_id"] == str(threat_id)

    # The refusals are counted as a signal (each process writes its tally within 0.5 s).
    deadline = time.monotonic() + PROPAGATION_SECONDS
    while True:
        metrics = await client.get("/api/v1/security/metrics", headers=admin.headers)
        if metrics.json()["totals"]["blocked_requests"] >= 6 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert metrics.json()["totals"]["blocked_requests"] >= 6, metrics.json()
    assert metrics.json()["blocked_ips"] == 1

    # The hour passes on the injected clock: both processes serve again, unchanged table.
    clock.advance(timedelta(hours=1, seconds=1))
    for server in (one, two):
        served = await _wait_for_status(server, "/api/v1/auth/me", 401)
        assert served.status_code == 401, served.text


async def test_blocked_ips_are_listed_added_and_removed(
    servers: list[httpx.AsyncClient], client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    one, two = servers
    created = await client.post(
        "/api/v1/security/blocked-ips",
        json={"ip": "127.0.0.0/8", "reason": "loopback abuse"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["ip"] == "127.0.0.0/8"
    assert created.json()["expires_at"] is None
    for server in (one, two):
        assert (await _wait_for_status(server, "/api/v1/auth/me", 403)).status_code == 403

    removed = await client.delete(
        f"/api/v1/security/blocked-ips/{created.json()['id']}", headers=admin.headers
    )
    assert removed.status_code == 204
    for server in (one, two):
        assert (await _wait_for_status(server, "/api/v1/auth/me", 401)).status_code == 401
    again = await client.delete(
        f"/api/v1/security/blocked-ips/{created.json()['id']}", headers=admin.headers
    )
    assert again.status_code == 404

    # The admin's own address is refused, and so is what is not an address.
    own = await client.post(
        "/api/v1/security/blocked-ips", json={"ip": "203.0.113.0/24"}, headers=admin.headers
    )
    assert own.status_code == 422
    bad = await client.post(
        "/api/v1/security/blocked-ips", json={"ip": "not-an-ip"}, headers=admin.headers
    )
    assert bad.status_code == 422
    audit = await client.get(
        "/api/v1/audit/logs", params={"action": "security.ip_blocked"}, headers=admin.headers
    )
    assert audit.json()["count"] == 1


async def test_a_flood_of_refused_requests_writes_a_bounded_number_of_rows(
    app: FastAPI, client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn
) -> None:
    flooder = "198.51.100.9"
    created = await client.post(
        "/api/v1/security/blocked-ips", json={"ip": flooder}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    transport = httpx.ASGITransport(app=app, client=(flooder, 40000))
    started = time.monotonic()
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as flood:
        # This app runs without its lifespan (no change listener): its copy of the list
        # follows within security_blocklist_cache_seconds. Until then requests pass.
        refused = 0
        while refused < 1000:
            answer = await flood.get(f"/api/v1/tenants/{refused}")
            if answer.status_code == 403:
                refused += 1
            else:
                assert refused == 0 and time.monotonic() - started < 30, answer.text
    elapsed = time.monotonic() - started
    # Whatever is still counted in memory is written when the app stops (its lifespan).
    await block_list_of({"app": app}).refusals.close()

    async with runtime.db.sessionmaker() as session:
        rows, requests = (
            await session.execute(
                select(func.count(), func.sum(SecurityEvent.count)).where(
                    SecurityEvent.type == "blocked_request",
                    SecurityEvent.ip_address == flooder,
                )
            )
        ).one()
    assert requests == 1000
    # One row per flush window (0.5 s here), not one per request.
    assert rows <= elapsed / 0.5 + 2, (rows, elapsed)
    metrics = await client.get("/api/v1/security/metrics", headers=admin.headers)
    assert metrics.json()["totals"]["blocked_requests"] == 1000
    assert {"ip": flooder, "count": 1000} in metrics.json()["top_ips"]
