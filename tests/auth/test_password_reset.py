from __future__ import annotations

from datetime import timedelta

import httpx

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import login, register
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox

NEW_PASSWORD = "a-brand-new-passphrase"


async def _request_reset(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, email: str, count: int = 1
) -> str:
    response = await client.post("/api/v1/auth/password-reset/request", json={"email": email})
    assert response.status_code == 202
    await runtime.run_pending_jobs()
    return (await inbox.wait_for(email, count=count)).token()


async def test_unknown_email_answers_202_and_sends_nothing(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    response = await client.post(
        "/api/v1/auth/password-reset/request", json={"email": "ghost@example.com"}
    )
    assert response.status_code == 202
    await runtime.run_pending_jobs()
    assert inbox.mails == []


async def test_reset_changes_password_and_ends_every_session(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    await register(client, "reset@example.com")
    await runtime.run_pending_jobs()  # the verification mail
    first = await login(client, "reset@example.com")
    second = await login(client, "reset@example.com")

    token = await _request_reset(client, runtime, inbox, "reset@example.com", count=2)
    done = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 200

    for old in (first, second):
        assert (await client.get("/api/v1/auth/me", headers=old.headers)).status_code == 401
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": old.refresh_token}
        )
        assert refreshed.status_code == 401
    old_password = await client.post(
        "/api/v1/auth/login", json={"email": "reset@example.com", "password": first.password}
    )
    assert old_password.status_code == 401
    fresh = await login(client, "reset@example.com", NEW_PASSWORD)
    assert fresh.user["email_verified"] is True

    # The token was single-use.
    reused = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "yet-another-passphrase"},
    )
    assert_envelope(reused, 400, "INVALID_TOKEN")


async def test_expired_token_fails(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, clock: FrozenClock
) -> None:
    await register(client, "slow@example.com")
    token = await _request_reset(client, runtime, inbox, "slow@example.com", count=2)
    clock.advance(timedelta(minutes=61))
    expired = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert_envelope(expired, 400, "INVALID_TOKEN")
    assert (await login(client, "slow@example.com")).access_token


async def test_only_the_newest_link_works(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    await register(client, "twice@example.com")
    older = await _request_reset(client, runtime, inbox, "twice@example.com", count=2)
    newer = await _request_reset(client, runtime, inbox, "twice@example.com", count=3)
    stale = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": older, "new_password": NEW_PASSWORD}
    )
    assert stale.status_code == 400
    ok = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": newer, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 200


async def test_weak_new_password_is_refused_and_token_survives(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    await register(client, "weak@example.com")
    token = await _request_reset(client, runtime, inbox, "weak@example.com", count=2)
    weak = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "password1"}
    )
    assert "new_password" in assert_envelope(weak, 422, "VALIDATION_ERROR")["details"]
    ok = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 200


async def test_change_password_keeps_current_session_only(client: httpx.AsyncClient) -> None:
    await register(client, "chg@example.com")
    current = await login(client, "chg@example.com")
    other = await login(client, "chg@example.com")
    wrong = await client.post(
        "/api/v1/auth/change-password",
        headers=current.headers,
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    changed = await client.post(
        "/api/v1/auth/change-password",
        headers=current.headers,
        json={"current_password": current.password, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=current.headers)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 401
