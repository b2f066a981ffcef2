"""Five failed logins for one account within 15 minutes lock it for 15 minutes."""

from __future__ import annotations

from datetime import timedelta

import httpx

from saas_server.core.clock import FrozenClock
from tests.fixtures.auth import DEFAULT_PASSWORD, register
from tests.fixtures.errors import assert_envelope


async def _attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_lockout_and_its_end(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await register(client, "lock@example.com")
    for _ in range(5):
        response = await _attempt(client, "lock@example.com", "wrong-password-here")
        assert_envelope(response, 401, "UNAUTHORIZED")

    # Locked: even the right password answers 429, with Retry-After for the 15 minutes.
    locked = await _attempt(client, "lock@example.com", DEFAULT_PASSWORD)
    assert_envelope(locked, 429, "RATE_LIMIT_EXCEEDED")
    assert int(locked.headers["retry-after"]) == 15 * 60

    clock.advance(timedelta(minutes=10))
    still = await _attempt(client, "lock@example.com", DEFAULT_PASSWORD)
    assert still.status_code == 429
    assert int(still.headers["retry-after"]) == 5 * 60

    clock.advance(timedelta(minutes=5, seconds=1))
    assert (await _attempt(client, "lock@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_failures_outside_the_window_do_not_add_up(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, "spread@example.com")
    for _ in range(4):
        assert (await _attempt(client, "spread@example.com", "wrong-password!")).status_code == 401
    clock.advance(timedelta(minutes=16))
    for _ in range(4):
        assert (await _attempt(client, "spread@example.com", "wrong-password!")).status_code == 401
    assert (await _attempt(client, "spread@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_success_resets_the_count(client: httpx.AsyncClient) -> None:
    await register(client, "reset-count@example.com")
    for _ in range(4):
        await _attempt(client, "reset-count@example.com", "wrong-password!")
    assert (await _attempt(client, "reset-count@example.com", DEFAULT_PASSWORD)).status_code == 200
    for _ in range(4):
        assert (
            await _attempt(client, "reset-count@example.com", "wrong-password!")
        ).status_code == 401
    assert (await _attempt(client, "reset-count@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_unknown_email_and_wrong_password_answer_alike(client: httpx.AsyncClient) -> None:
    await register(client, "known@example.com")
    known = await _attempt(client, "known@example.com", "wrong-password!")
    unknown = await _attempt(client, "unknown@example.com", "wrong-password!")
    assert known.status_code == unknown.status_code == 401
    k, u = known.json()["error"], unknown.json()["error"]
    assert (k["code"], k["message"], k["details"]) == (u["code"], u["message"], u["details"])
    # Unknown addresses lock the same way, so lockout cannot tell them apart either.
    for _ in range(5):
        await _attempt(client, "unknown@example.com", "wrong-password!")
        await _attempt(client, "known@example.com", "wrong-password!")
    assert (await _attempt(client, "unknown@example.com", "x" * 12)).status_code == 429
    assert (await _attempt(client, "known@example.com", "x" * 12)).status_code == 429
