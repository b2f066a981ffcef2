"""A rotated refresh token presented again within the reuse grace window is answered with the
pair it was rotated to; after the window (or with the grace off) it is theft, as before
(docs/decisions/0034-refresh-reuse-grace.md)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from saas_server.auth.models import AuthSession, RefreshToken
from saas_server.core.clock import FrozenClock
from saas_server.core.crypto import hash_token
from saas_server.core.runtime import Runtime
from saas_server.security.threats import detect_threats
from tests.fixtures.auth import LoggedIn

REFRESH = "/api/v1/auth/refresh"
HTTP_TIMEOUT = httpx.Timeout(60.0)


async def _me(client: httpx.AsyncClient, access_token: str) -> int:
    response = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


async def _session_of(runtime: Runtime, refresh_token: str) -> AuthSession:
    async with runtime.db.transaction() as session:
        found = (
            await session.execute(
                select(AuthSession)
                .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
                .where(RefreshToken.token_hash == hash_token(refresh_token))
            )
        ).scalar_one()
        return found


async def _token_reuse_threats(runtime: Runtime) -> list[str]:
    async with runtime.db.transaction() as session:
        report = await detect_threats(session, runtime.settings)
    return [t.type for t in report.filed if t.type == "token_reuse"]


@pytest.mark.slow
async def test_concurrent_refreshes_with_one_token_both_get_a_working_pair(
    live_server: str, owner: LoggedIn, runtime: Runtime
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=HTTP_TIMEOUT) as live:
        answers = await asyncio.gather(
            *(live.post(REFRESH, json={"refresh_token": owner.refresh_token}) for _ in range(3))
        )
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        pairs = [a.json() for a in answers]
        # One successor for all: the family stays one chain.
        successors = {p["refresh_token"] for p in pairs}
        assert len(successors) == 1
        assert owner.refresh_token not in successors
        for pair in pairs:
            assert await _me(live, pair["access_token"]) == 200
        # The session lives on: the successor rotates as usual.
        (successor,) = successors
        onward = await live.post(REFRESH, json={"refresh_token": successor})
        assert onward.status_code == 200, onward.text
        assert await _me(live, onward.json()["access_token"]) == 200
    assert (await _session_of(runtime, successor)).revoked_at is None
    assert await _token_reuse_threats(runtime) == []


@pytest.mark.slow
@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_seconds": 0}])
async def test_with_the_grace_off_concurrent_refreshes_end_the_session(
    live_server: str, owner: LoggedIn, runtime: Runtime
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=HTTP_TIMEOUT) as live:
        answers = await asyncio.gather(
            *(live.post(REFRESH, json={"refresh_token": owner.refresh_token}) for _ in range(2))
        )
        assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
        (won,) = [a.json() for a in answers if a.status_code == 200]
        # The second presentation was taken as theft: the winner's pair died with the family.
        assert await _me(live, won["access_token"]) == 401
        dead = await live.post(REFRESH, json={"refresh_token": won["refresh_token"]})
        assert dead.status_code == 401
    revoked = await _session_of(runtime, owner.refresh_token)
    assert revoked.revoked_reason == "refresh_token_reuse"
    assert await _token_reuse_threats(runtime) == ["token_reuse"]


async def test_reuse_within_the_window_follows_the_chain_and_seals_no_token_in_clear(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    first = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert first.status_code == 200, first.text
    second = await client.post(REFRESH, json={"refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200, second.text
    head = second.json()["refresh_token"]

    # The original token, still within its window, two rotations behind: the newest pair.
    clock.advance(seconds=5)
    late = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert late.status_code == 200, late.text
    assert late.json()["refresh_token"] == head
    assert await _me(client, late.json()["access_token"]) == 200

    async with runtime.db.transaction() as session:
        rows = (await session.execute(select(RefreshToken))).scalars().all()
        sealed = [r.successor_sealed for r in rows if r.successor_sealed is not None]
    assert len(sealed) == 2
    raw_tokens = {owner.refresh_token, first.json()["refresh_token"], head}
    assert not any(raw in value for value in sealed for raw in raw_tokens)

    # After the window the sealed successors are dropped by the next refresh (any session's).
    clock.advance(seconds=runtime.settings.refresh_reuse_grace_seconds + 1)
    onward = await client.post(REFRESH, json={"refresh_token": head})
    assert onward.status_code == 200, onward.text
    async with runtime.db.transaction() as session:
        rows = (await session.execute(select(RefreshToken))).scalars().all()
        kept = [r for r in rows if r.successor_sealed is not None]
    # Only the token just rotated keeps one, for its own window.
    assert [r.token_hash for r in kept] == [hash_token(head)]


async def test_reuse_after_the_window_revokes_the_family_and_is_a_threat(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    rotated = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert rotated.status_code == 200, rotated.text
    clock.advance(timedelta(seconds=runtime.settings.refresh_reuse_grace_seconds + 1))

    reused = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "UNAUTHORIZED"
    newest = await client.post(REFRESH, json={"refresh_token": rotated.json()["refresh_token"]})
    assert newest.status_code == 401
    assert await _me(client, rotated.json()["access_token"]) == 401
    revoked = await _session_of(runtime, owner.refresh_token)
    assert revoked.revoked_reason == "refresh_token_reuse"
    assert await _token_reuse_threats(runtime) == ["token_reuse"]


@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_seconds": 0}])
async def test_with_the_grace_off_an_immediate_reuse_is_theft_and_nothing_is_sealed(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    rotated = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert rotated.status_code == 200, rotated.text
    async with runtime.db.transaction() as session:
        sealed = (await session.execute(select(RefreshToken.successor_sealed))).scalars().all()
    assert sealed == [None, None]
    reused = await client.post(REFRESH, json={"refresh_token": owner.refresh_token})
    assert reused.status_code == 401
    newest = await client.post(REFRESH, json={"refresh_token": rotated.json()["refresh_token"]})
    assert newest.status_code == 401
    assert (await _session_of(runtime, owner.refresh_token)).revoked_reason == (
        "refresh_token_reuse"
    )
