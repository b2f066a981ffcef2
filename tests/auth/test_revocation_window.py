"""A logout, a suspension or a password change ends access at once on the process that
did it, and within a second on every other API process: through real servers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from saas_server.core.settings import Settings
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.commits import slow_commits
from tests.fixtures.live_server import running_server

HTTP_TIMEOUT = httpx.Timeout(60.0)
# Every other process must refuse within this; polled, so a loaded machine only slows the
# test down when the platform is too slow.
OTHER_PROCESS_SECONDS = 1.0


@pytest.fixture
async def live(live_server: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # Commits that end a session or change a user take a moment, as on a busy server: a
    # response sent before its commit is then reliably followed by a request that sees
    # the old state.
    assert settings.database_url is not None
    slow_commits(settings.database_url, ("users", "auth_sessions"), seconds=0.1)
    async with httpx.AsyncClient(base_url=live_server, timeout=HTTP_TIMEOUT) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_logged_out_token_is_refused_on_the_next_request(
    live: httpx.AsyncClient, owner: LoggedIn
) -> None:
    for _ in range(20):
        session = await login(live, owner.email)
        assert (await live.get("/api/v1/auth/me", headers=session.headers)).status_code == 200
        out = await live.post("/api/v1/auth/logout", headers=session.headers)
        assert out.status_code == 204, out.text
        after = await live.get("/api/v1/auth/me", headers=session.headers)
        assert after.status_code == 401, after.text


async def test_a_suspended_users_token_is_refused_on_the_next_request(
    live: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    for _ in range(5):
        session = await login(live, owner.email)
        assert (await live.get("/api/v1/auth/me", headers=session.headers)).status_code == 200
        suspended = await live.patch(
            f"/api/v1/users/{owner.user['id']}", json={"is_active": False}, headers=admin.headers
        )
        assert suspended.status_code == 200, suspended.text
        after = await live.get("/api/v1/auth/me", headers=session.headers)
        assert after.status_code == 401, after.text
        restored = await live.patch(
            f"/api/v1/users/{owner.user['id']}", json={"is_active": True}, headers=admin.headers
        )
        assert restored.status_code == 200, restored.text


async def test_a_password_change_refuses_the_other_sessions_on_the_next_request(
    live: httpx.AsyncClient, owner: LoggedIn
) -> None:
    password = owner.password
    for round_ in range(5):
        here = await login(live, owner.email, password)
        elsewhere = await login(live, owner.email, password)
        assert (await live.get("/api/v1/auth/me", headers=elsewhere.headers)).status_code == 200
        new_password = f"another-horse-battery-{round_}"
        changed = await live.post(
            "/api/v1/auth/change-password",
            json={"current_password": password, "new_password": new_password},
            headers=here.headers,
        )
        assert changed.status_code == 200, changed.text
        password = new_password
        after = await live.get("/api/v1/auth/me", headers=elsewhere.headers)
        assert after.status_code == 401, after.text
        assert (await live.get("/api/v1/auth/me", headers=here.headers)).status_code == 200


async def refused_within(client: httpx.AsyncClient, token: str, seconds: float) -> float:
    """Seconds until ``client``'s server refuses ``token``; fails past ``seconds``."""
    started = time.monotonic()
    while True:
        answer = await client.get("/api/v1/auth/me", headers=bearer(token))
        elapsed = time.monotonic() - started
        if answer.status_code == 401:
            return elapsed
        assert answer.status_code == 200, answer.text
        assert elapsed <= seconds, f"still accepted {elapsed:.2f} s later on another process"


async def test_a_logout_on_one_process_is_honoured_by_another_within_a_second(
    live: httpx.AsyncClient, settings: Settings, owner: LoggedIn, admin: LoggedIn
) -> None:
    with running_server(settings) as other_url:
        async with httpx.AsyncClient(base_url=other_url, timeout=HTTP_TIMEOUT) as other:
            for _ in range(5):
                session = await login(live, owner.email)
                # Both processes have the principal in memory.
                for client in (live, other):
                    me = await client.get("/api/v1/auth/me", headers=session.headers)
                    assert me.status_code == 200, me.text
                out = await live.post("/api/v1/auth/logout", headers=session.headers)
                assert out.status_code == 204, out.text
                await refused_within(other, session.access_token, OTHER_PROCESS_SECONDS)

            # A suspension too.
            assert (await other.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200
            suspended = await live.patch(
                f"/api/v1/users/{owner.user['id']}",
                json={"is_active": False},
                headers=admin.headers,
            )
            assert suspended.status_code == 200, suspended.text
            await refused_within(other, owner.access_token, OTHER_PROCESS_SECONDS)
