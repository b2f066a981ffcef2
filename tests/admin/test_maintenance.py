"""Maintenance mode: stored, shared by every API process, 503 to every non-admin /api call."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from saas_server.audit.models import AuditEntry
from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.cli import cli
from tests.fixtures.errors import assert_envelope
from tests.fixtures.live_server import running_server


async def switch(
    client: httpx.AsyncClient, admin: LoggedIn, enabled: bool, **extra: object
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/admin/maintenance", json={"enabled": enabled, **extra}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_users_get_503_with_retry_after_while_admins_login_and_health_pass(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn
) -> None:
    assert (await client.get("/api/v1/tenants", headers=owner.headers)).status_code == 200
    state = await switch(client, admin, True, message="Upgrading PostgreSQL")
    assert state["enabled"] is True and state["active"] is True

    refused = await client.get("/api/v1/tenants", headers=owner.headers)
    error = assert_envelope(refused, 503, "MAINTENANCE_MODE")
    assert error["message"] == "Upgrading PostgreSQL"
    assert refused.headers["retry-after"] == str(runtime.settings.maintenance_retry_after_seconds)
    anonymous = await client.post("/api/v1/auth/register", json={"email": "x@example.com"})
    assert_envelope(anonymous, 503, "MAINTENANCE_MODE")
    # A non-admin is refused on admin routes too, with 503 before any 403.
    assert_envelope(
        await client.get("/api/v1/admin/stats", headers=owner.headers), 503, "MAINTENANCE_MODE"
    )

    # Login and token refresh still work, for everyone; health is outside /api.
    again = await login(client, owner.email)
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": again.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert (await client.get("/health")).status_code == 200
    # Admins keep the whole API.
    assert (await client.get("/api/v1/tenants", headers=admin.headers)).status_code == 200
    got = await client.get("/api/v1/admin/maintenance", headers=admin.headers)
    assert got.json()["message"] == "Upgrading PostgreSQL"

    assert (await switch(client, admin, False))["enabled"] is False
    assert (await client.get("/api/v1/tenants", headers=owner.headers)).status_code == 200

    async with runtime.db.sessionmaker() as session:
        actions = list(
            (
                await session.execute(
                    select(AuditEntry.action)
                    .where(AuditEntry.action.like("admin.maintenance.%"))
                    .order_by(AuditEntry.seq)
                )
            ).scalars()
        )
    assert actions == ["admin.maintenance.on", "admin.maintenance.off"]


async def test_until_sets_retry_after_and_the_mode_lapses_at_that_time(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    clock: clock_module.FrozenClock,
) -> None:
    until = clock_module.now() + timedelta(minutes=10)
    await switch(client, admin, True, until=clock_module.isoformat(until))
    refused = await client.get("/api/v1/tenants", headers=owner.headers)
    assert_envelope(refused, 503, "MAINTENANCE_MODE")
    assert refused.headers["retry-after"] == "600"
    assert refused.json()["error"]["details"]["until"] == clock_module.isoformat(until)
    clock.advance(minutes=6)
    assert (await client.get("/api/v1/tenants", headers=owner.headers)).headers[
        "retry-after"
    ] == "240"
    # Access tokens live 15 minutes: the whole story fits in them.
    clock.advance(minutes=4)
    assert (await client.get("/api/v1/tenants", headers=owner.headers)).status_code == 200
    lapsed = (await client.get("/api/v1/admin/maintenance", headers=admin.headers)).json()
    assert lapsed["enabled"] is True and lapsed["active"] is False


async def test_bad_input_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    past = clock_module.isoformat(clock_module.now() - timedelta(minutes=1))
    for body in ({"enabled": True, "until": past}, {"enabled": "maybe"}, {"message": "x"}):
        response = await client.post("/api/v1/admin/maintenance", json=body, headers=admin.headers)
        assert_envelope(response, 422, "VALIDATION_ERROR")
    assert (await client.get("/api/v1/tenants", headers=owner.headers)).status_code == 200


async def _until_status(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> float:
    """Seconds until ``path`` answers ``status`` (a NOTIFY travels; it does not teleport)."""
    started = time.monotonic()
    while True:
        response = await http.get(path, headers=headers)
        if response.status_code == status:
            return time.monotonic() - started
        assert time.monotonic() - started < 5, response.text
        await asyncio.sleep(0.02)


async def test_two_api_processes_share_the_switch(
    client: httpx.AsyncClient, settings: Settings, owner: LoggedIn, admin: LoggedIn
) -> None:
    with running_server(settings) as first, running_server(settings) as second:
        async with httpx.AsyncClient(base_url=first) as a, httpx.AsyncClient(base_url=second) as b:
            # Both processes have read (and keep) the switch while it is off.
            for http in (a, b):
                assert (await http.get("/api/v1/tenants", headers=owner.headers)).status_code == 200
            on = await a.post(
                "/api/v1/admin/maintenance", json={"enabled": True}, headers=admin.headers
            )
            assert on.status_code == 200, on.text
            assert await _until_status(b, "/api/v1/tenants", owner.headers, 503) < 1
            assert_envelope(
                await a.get("/api/v1/tenants", headers=owner.headers), 503, "MAINTENANCE_MODE"
            )
            # Turned off through the other process: the first one hears it.
            off = await b.post(
                "/api/v1/admin/maintenance", json={"enabled": False}, headers=admin.headers
            )
            assert off.status_code == 200, off.text
            assert await _until_status(a, "/api/v1/tenants", owner.headers, 200) < 1


@pytest.mark.parametrize("mode", ["on", "off"])
async def test_cli_turns_it_on_and_off(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, mode: str
) -> None:
    code, output = await asyncio.to_thread(
        cli, runtime, ["admin", "maintenance", mode, "--message", "Back soon"]
    )
    assert code == 0, output
    assert f"Maintenance mode is {mode}" in output
    response = await client.get("/api/v1/tenants", headers=owner.headers)
    assert response.status_code == (503 if mode == "on" else 200)


async def test_cli_refuses_an_unknown_mode(runtime: Runtime) -> None:
    code, output = await asyncio.to_thread(cli, runtime, ["admin", "maintenance", "sideways"])
    assert code == 2, output
