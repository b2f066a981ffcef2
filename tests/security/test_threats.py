"""Threat detection from the signals, the threat list and its actions, the metrics."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.security.threats import detect_threats
from tests.fixtures.auth import LoggedIn
from tests.fixtures.cli import cli

ATTACKER_IP = "203.0.113.7"  # the ASGI client's address (tests/conftest.py)


async def _detect(runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.transaction() as session:
        report = await detect_threats(session, runtime.settings)
        return report.as_dict()


async def _stuff(client: httpx.AsyncClient, accounts: int, per_account: int) -> None:
    """Wrong passwords tried over many accounts, from the client's one address."""
    for attempt in range(per_account):
        for n in range(accounts):
            response = await client.post(
                "/api/v1/auth/login",
                json={"email": f"victim{n}@example.com", "password": f"guess-{attempt}"},
            )
            # Refused either way: a wrong password, or the source's lockout.
            assert response.status_code in (401, 429), response.text


async def test_credential_stuffing_files_exactly_one_threat_and_updates_it(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, clock: FrozenClock
) -> None:
    await _stuff(client, accounts=10, per_account=5)

    first = await _detect(runtime)
    assert [t["type"] for t in first["filed"]] == ["credential_stuffing"]

    response = await client.get("/api/v1/security/threats", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1
    threat = body["results"][0]
    assert threat["type"] == "credential_stuffing"
    assert threat["subject"] == ATTACKER_IP
    assert threat["source_ip"] == ATTACKER_IP
    assert threat["event_count"] == 50
    assert threat["details"]["distinct"] == 10
    assert threat["status"] == "open"
    assert threat["severity"] == "high"
    for params, count in (
        ({"severity": "high"}, 1),
        ({"severity": "low"}, 0),
        ({"type": "brute_force"}, 0),
        ({"date_from": "2999-01-01T00:00:00Z"}, 0),
        ({"search": ATTACKER_IP}, 1),
    ):
        listed = await client.get("/api/v1/security/threats", params=params, headers=admin.headers)
        assert listed.json()["count"] == count, params
    bad = await client.get(
        "/api/v1/security/threats", params={"severity": "extreme"}, headers=admin.headers
    )
    assert bad.status_code == 422

    # Detection again: the same threat, unchanged; the attack goes on: it grows, still one.
    again = await _detect(runtime)
    assert again["filed"] == []
    clock.advance(seconds=30)
    await _stuff(client, accounts=2, per_account=1)
    await _detect(runtime)
    response = await client.get(
        "/api/v1/security/threats",
        params={"type": "credential_stuffing", "status": "open"},
        headers=admin.headers,
    )
    assert response.json()["count"] == 1
    assert response.json()["results"][0]["event_count"] == 52

    # Resolved: the same old events never file it again.
    response = await client.post(
        f"/api/v1/security/threats/{threat['id']}/actions",
        json={"action": "resolve", "note": "handled"},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "resolved"
    assert (await _detect(runtime))["filed"] == []
    response = await client.get("/api/v1/security/threats", headers=admin.headers)
    assert response.json()["count"] == 1

    # Resolving twice is refused by the lifecycle; the actions are audited.
    response = await client.post(
        f"/api/v1/security/threats/{threat['id']}/actions",
        json={"action": "acknowledge"},
        headers=admin.headers,
    )
    assert response.status_code == 409
    response = await client.get(
        "/api/v1/audit/logs", params={"action": "security.threat_resolved"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 1


async def test_few_failures_file_nothing_and_a_brute_force_on_one_account_is_found(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn
) -> None:
    await _stuff(client, accounts=3, per_account=2)
    assert (await _detect(runtime))["filed"] == []

    await _stuff(client, accounts=1, per_account=10)
    filed = (await _detect(runtime))["filed"]
    assert [(t["type"], t["subject"]) for t in filed] == [("brute_force", "victim0@example.com")]


async def test_refresh_token_reuse_is_a_threat(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    clock: FrozenClock,
) -> None:
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert rotated.status_code == 200
    # Presented again after the reuse grace window: theft.
    clock.advance(seconds=runtime.settings.refresh_reuse_grace_seconds + 1)
    reused = await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert reused.status_code == 401
    filed = (await _detect(runtime))["filed"]
    assert [t["type"] for t in filed] == ["token_reuse"]
    response = await client.get(
        "/api/v1/security/threats", params={"type": "token_reuse"}, headers=admin.headers
    )
    assert response.json()["results"][0]["account"] == owner.email
    assert response.json()["results"][0]["severity"] == "high"


async def test_tenant_id_enumeration_is_a_threat(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn
) -> None:
    for _ in range(runtime.settings.security_enumeration_threshold):
        response = await client.get(f"/api/v1/tenants/{uuid.uuid4()}", headers=owner.headers)
        assert response.status_code == 404
    filed = (await _detect(runtime))["filed"]
    assert [t["type"] for t in filed] == ["tenant_enumeration"]
    response = await client.get("/api/v1/security/metrics", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["tenant_not_found"] == 20
    assert response.json()["top_accounts"][0] == {"account": owner.email, "count": 20}


async def test_metrics_count_each_signal_per_hour(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, clock: FrozenClock
) -> None:
    await _stuff(client, accounts=2, per_account=3)
    response = await client.get("/api/v1/security/metrics", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totals"]["failed_logins"] + body["totals"]["lockouts"] == 6
    assert len(body["series"]) == 24
    assert sum(h["failed_logins"] + h["lockouts"] for h in body["series"]) == 6
    assert body["top_ips"][0] == {"ip": ATTACKER_IP, "count": 6}

    # Bad ranges are 422s, never 500s.
    response = await client.get(
        "/api/v1/security/metrics",
        params={"date_from": "2026-01-10T00:00:00Z", "date_to": "2026-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert response.status_code == 422
    response = await client.get(
        "/api/v1/security/metrics",
        params={"date_from": "2025-01-01T00:00:00Z", "date_to": "2026-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert response.status_code == 422


async def test_security_routes_are_for_platform_admins_only(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    routes = [
        ("GET", "/api/v1/security/metrics", None),
        ("GET", "/api/v1/security/threats", None),
        ("GET", f"/api/v1/security/threats/{uuid.uuid4()}", None),
        ("POST", f"/api/v1/security/threats/{uuid.uuid4()}/actions", {"action": "resolve"}),
        ("GET", "/api/v1/security/blocked-ips", None),
        ("POST", "/api/v1/security/blocked-ips", {"ip": "198.51.100.1"}),
        ("DELETE", f"/api/v1/security/blocked-ips/{uuid.uuid4()}", None),
    ]
    for method, path, body in routes:
        response = await client.request(method, path, json=body, headers=owner.headers)
        assert response.status_code == 403, (method, path, response.text)
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)


async def test_saas_security_detect_runs_the_detection_now(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _stuff(client, accounts=10, per_account=2)
    # The command runs its own event loop: off this one.
    code, out = await asyncio.to_thread(cli, runtime, ["security", "detect", "--json"])
    assert code == 0, out
    # Log lines (stderr, mixed in by the runner) come before the JSON array.
    [row] = json.loads(out[out.index("[\n") :])
    assert (row["change"], row["type"], row["subject"]) == (
        "filed",
        "credential_stuffing",
        ATTACKER_IP,
    )
    code, out = await asyncio.to_thread(cli, runtime, ["security", "detect"])
    assert code == 0, out
    assert "updated" in out and "credential_stuffing" in out
