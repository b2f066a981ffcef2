"""The principal cache (auth/principal_cache.py) and the verified-token memo, on real PostgreSQL.

What is proven here: a repeated request is answered from memory; every way a user or a
login session can change (this process's commits, other connections, other API
processes) ends a cached entry at once or within a moment; nothing is served while a
change could go unheard; the TTL bounds what slips through; the token memo never
outlives a token's expiry nor accepts a token it did not verify.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import inspect, text, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.exc import DetachedInstanceError

from saas_server.app import create_app
from saas_server.auth import principal_cache as principal_cache_module
from saas_server.auth.models import AuthSession
from saas_server.auth.principal_cache import PrincipalCache
from saas_server.auth.service import authenticate
from saas_server.core import notifications
from saas_server.core.clock import FrozenClock
from saas_server.core.errors import Unauthorized
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.users.models import User
from saas_server.wiring import build_runtime
from tests.fixtures.auth import DEFAULT_PASSWORD, LoggedIn, login, platform_admin, register
from tests.fixtures.errors import assert_envelope
from tests.fixtures.settings import TEST_SECRET_KEY

ME = "/api/v1/auth/me"
# How long a change committed elsewhere may take to reach the cache (NOTIFY, then the
# listening connection): a bound for polling, not a sleep, and not the promise (that is
# tests/auth/test_revocation_window.py): wide enough for a machine loaded by parallel workers.
NOTIFY_DEADLINE_SECONDS = 10.0


# -- helpers ---------------------------------------------------------------------------------


async def listening(runtime: Runtime) -> None:
    await asyncio.wait_for(runtime.principal_cache.listener.wait_listening(), 10)


async def until(condition: Callable[[], bool], seconds: float = NOTIFY_DEADLINE_SECONDS) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def until_status(
    client: httpx.AsyncClient, user: LoggedIn, status: int, seconds: float = NOTIFY_DEADLINE_SECONDS
) -> httpx.Response:
    """Ask /me until it answers ``status`` (bounded): for changes that travel by NOTIFY."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get(ME, headers=user.headers)
        if response.status_code == status:
            return response
        assert asyncio.get_running_loop().time() < deadline, response.text
        await asyncio.sleep(0.01)


async def new_user(client: httpx.AsyncClient, email: str) -> LoggedIn:
    await register(client, email)
    return await login(client, email)


def session_id(runtime: Runtime, user: LoggedIn) -> uuid.UUID:
    return runtime.access_tokens.decode(user.access_token).session_id


def counts(cache: PrincipalCache) -> tuple[int, int]:
    return cache.hits, cache.loads


async def settled(runtime: Runtime) -> None:
    """Wait until every change committed so far has reached the listener (a login's own
    NOTIFY arriving late would evict what a test just cached). Notifications arrive in
    commit order: once one sent now is heard, all earlier ones were."""
    marker = uuid.uuid4()
    await raw_execute(
        runtime, "SELECT pg_notify(%s, %s)", principal_cache_module.CHANNEL, str(marker)
    )
    await until(lambda: marker in runtime.principal_cache._evicted_at)


async def cached_me(client: httpx.AsyncClient, runtime: Runtime, user: LoggedIn) -> None:
    """Bring ``user``'s principal into memory and check the next request is a hit."""
    cache = runtime.principal_cache
    await listening(runtime)
    await settled(runtime)
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    hits, loads = counts(cache)
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert counts(cache) == (hits + 1, loads)
    assert session_id(runtime, user) in cache._entries


@contextmanager
def notifications_ignored(runtime: Runtime) -> Iterator[list[str]]:
    """Deaf to NOTIFY (the payloads are recorded instead), so only in-process eviction acts."""
    listener = runtime.principal_cache.listener
    heard: list[str] = []
    original = listener._on_change
    listener._on_change = heard.append
    try:
        yield heard
    finally:
        listener._on_change = original


async def raw_execute(runtime: Runtime, query: str, *params: Any) -> None:
    """Commit ``query`` on a connection of its own, outside the runtime (like psql would)."""
    async with await psycopg.AsyncConnection.connect(runtime.database_url, autocommit=True) as conn:
        await conn.execute(query, params or None)


async def kill_listener(runtime: Runtime) -> None:
    conn = runtime.principal_cache.listener._conn
    assert conn is not None
    await raw_execute(runtime, "SELECT pg_terminate_backend(%s)", conn.info.backend_pid)


# -- served from memory ----------------------------------------------------------------------


async def test_a_repeated_request_is_served_from_memory(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "memory@example.com")
    await listening(runtime)
    await settled(runtime)
    first = await client.get(ME, headers=user.headers)
    assert first.status_code == 200
    hits, loads = counts(cache)
    for _ in range(3):
        again = await client.get(ME, headers=user.headers)
        assert again.status_code == 200
        assert again.json() == first.json()
    assert counts(cache) == (hits + 3, loads)
    assert len(cache) == 1


async def test_me_is_rendered_once_per_entry_and_equals_the_schema(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """GET /auth/me and /auth/profile answer the JSON rendered with the cache entry: made
    once, exactly what UserRead makes of the row, and made again from a replaced entry."""
    from saas_server.users.schemas import UserRead

    cache = runtime.principal_cache
    user = await new_user(client, "rendered@example.com")
    await cached_me(client, runtime, user)
    entry = cache._entries[session_id(runtime, user)]
    assert set(entry.renderings) == {"UserRead"}
    rendered = entry.renderings["UserRead"]
    for path in (ME, "/api/v1/auth/profile"):
        answer = await client.get(path, headers=user.headers)
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == rendered
        assert cache._entries[session_id(runtime, user)] is entry
    async with runtime.db.sessionmaker() as session:
        row = await session.get(User, uuid.UUID(user.user["id"]))
        assert json.loads(rendered) == json.loads(UserRead.model_validate(row).model_dump_json())
    assert json.loads(rendered)["name"] == json.loads(rendered)["full_name"]

    changed = await client.patch(
        "/api/v1/auth/profile", json={"full_name": "Ada Lovelace"}, headers=user.headers
    )
    assert changed.status_code == 200
    # The change's own NOTIFY, heard during the next load, would rightly refuse to store it.
    await settled(runtime)
    again = await client.get(ME, headers=user.headers)
    assert again.json()["full_name"] == again.json()["name"] == "Ada Lovelace"
    assert cache._entries[session_id(runtime, user)] is not entry


async def test_nothing_is_kept_before_the_listener_is_up(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "early@example.com")
    assert not cache.listener.listening
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert len(cache) == 0  # loaded, used, not kept: a change could have gone unheard
    await listening(runtime)  # the first request started the listener
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert len(cache) == 1


async def test_an_unknown_session_is_refused_and_not_kept(runtime: Runtime) -> None:
    cache = runtime.principal_cache
    await listening(runtime)
    token = runtime.access_tokens.issue(uuid.uuid4(), uuid.uuid4())
    with pytest.raises(Unauthorized):
        await authenticate(runtime, token)
    assert len(cache) == 0


# -- this process's changes: evicted once committed ------------------------------------------


async def test_logout_ends_access_at_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await new_user(client, "logout@example.com")
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        logout = await client.post("/api/v1/auth/logout", headers=user.headers)
        assert logout.status_code == 204
        assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")


async def test_password_change_ends_the_other_sessions_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "pw@example.com")
    here = await login(client, "pw@example.com")
    elsewhere = await login(client, "pw@example.com")
    await cached_me(client, runtime, here)
    await cached_me(client, runtime, elsewhere)
    with notifications_ignored(runtime):
        changed = await client.post(
            "/api/v1/auth/change-password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
            headers=here.headers,
        )
        assert changed.status_code == 200, changed.text
        assert_envelope(await client.get(ME, headers=elsewhere.headers), 401, "UNAUTHORIZED")
        assert (await client.get(ME, headers=here.headers)).status_code == 200


async def test_suspension_by_an_admin_ends_access_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await platform_admin(client, runtime)
    user = await new_user(client, "suspend@example.com")
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        suspended = await client.patch(
            f"/api/v1/users/{user.user['id']}", json={"is_active": False}, headers=admin.headers
        )
        assert suspended.status_code == 200, suspended.text
        assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")


async def test_deleting_a_user_ends_access_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await platform_admin(client, runtime)
    user = await new_user(client, "deleted@example.com")
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        deleted = await client.delete(f"/api/v1/users/{user.user['id']}", headers=admin.headers)
        assert deleted.status_code == 204, deleted.text
        assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("how", ["attribute", "bulk_update", "text"])
async def test_suspension_through_the_service_ends_access_at_once(
    client: httpx.AsyncClient, runtime: Runtime, how: str
) -> None:
    """A flushed attribute, a bulk UPDATE naming the user, textual SQL: all evict."""
    user = await new_user(client, f"service-{how}@example.com")
    user_id = uuid.UUID(user.user["id"])
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        async with runtime.db.transaction() as session:
            if how == "attribute":
                row = await session.get(User, user_id)
                assert row is not None
                row.is_active = False
            elif how == "bulk_update":
                await session.execute(
                    update(User).where(User.id == user_id).values(is_active=False)
                )
            else:
                await session.execute(
                    text("UPDATE users SET is_active = false WHERE id = :id"), {"id": user_id}
                )
        error = assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")
        assert error["message"] == "This account is suspended"


async def test_a_profile_change_is_seen_by_the_next_request(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await new_user(client, "profile@example.com")
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        changed = await client.patch(
            "/api/v1/auth/profile", json={"full_name": "Grace Hopper"}, headers=user.headers
        )
        assert changed.status_code == 200
        me = await client.get(ME, headers=user.headers)
        assert me.json()["full_name"] == "Grace Hopper"


async def test_eviction_waits_for_the_commit(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Flushed but not committed: other requests still see (and are served) the old row."""
    cache = runtime.principal_cache
    user = await new_user(client, "pending@example.com")
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        async with runtime.db.sessionmaker() as session:
            row = await session.get(User, uuid.UUID(user.user["id"]))
            assert row is not None
            row.full_name = "Not Yet"
            await session.flush()
            hits, loads = counts(cache)
            me = await client.get(ME, headers=user.headers)
            assert me.json()["full_name"] == "Test User"
            assert counts(cache) == (hits + 1, loads)
            await session.commit()
        assert len(cache) == 0
        assert (await client.get(ME, headers=user.headers)).json()["full_name"] == "Not Yet"


async def test_a_rolled_back_change_does_not_evict(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "rollback@example.com")
    user_id = uuid.UUID(user.user["id"])
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime) as heard:
        async with runtime.db.sessionmaker() as session:
            row = await session.get(User, user_id)
            assert row is not None
            row.is_active = False
            await session.execute(
                update(AuthSession)
                .where(AuthSession.user_id == user_id)
                .values(revoked_at=text("now()"))
            )
            await session.flush()
            await session.rollback()
        hits, loads = counts(cache)
        assert (await client.get(ME, headers=user.headers)).status_code == 200
        assert counts(cache) == (hits + 1, loads)
    assert heard == []  # NOTIFY is transactional: nothing was announced either


async def test_a_savepoint_evicts_only_when_the_outer_transaction_commits(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "savepoint@example.com")
    user_id = uuid.UUID(user.user["id"])
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        async with runtime.db.sessionmaker() as session:
            row = await session.get(User, user_id)
            assert row is not None
            async with session.begin_nested():
                row.is_active = False
            # The savepoint is released, the outer transaction is still open.
            assert session_id(runtime, user) in cache._entries
            hits, loads = counts(cache)
            assert (await client.get(ME, headers=user.headers)).status_code == 200
            assert counts(cache) == (hits + 1, loads)
            await session.commit()
        assert session_id(runtime, user) not in cache._entries
        assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")


async def test_a_savepoint_rolled_back_inside_a_committed_transaction_keeps_the_row(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await new_user(client, "savepoint-rollback@example.com")
    user_id = uuid.UUID(user.user["id"])
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        async with runtime.db.transaction() as session:
            row = await session.get(User, user_id)
            assert row is not None
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    row.is_active = False
                    await session.flush()
                    raise RuntimeError("undo the savepoint")
        # Evicting here is allowed (the cache may over-evict, never under-evict); what
        # matters is that the answer is the committed row's.
        assert (await client.get(ME, headers=user.headers)).status_code == 200


# -- other connections and other processes: evicted by NOTIFY --------------------------------


async def test_a_user_change_by_another_connection_is_seen(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await new_user(client, "raw-user@example.com")
    await cached_me(client, runtime, user)
    await raw_execute(runtime, "UPDATE users SET is_active = false WHERE id = %s", user.user["id"])
    error = assert_envelope(await until_status(client, user, 401), 401, "UNAUTHORIZED")
    assert error["message"] == "This account is suspended"


async def test_a_session_revoked_by_another_connection_is_seen(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await new_user(client, "raw-session@example.com")
    await cached_me(client, runtime, user)
    await raw_execute(
        runtime,
        "UPDATE auth_sessions SET revoked_at = now() WHERE id = %s",
        session_id(runtime, user),
    )
    error = assert_envelope(await until_status(client, user, 401), 401, "UNAUTHORIZED")
    assert error["message"] == "This session has ended"


async def test_a_row_change_by_another_connection_is_seen(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await new_user(client, "raw-name@example.com")
    await cached_me(client, runtime, user)
    await raw_execute(
        runtime, "UPDATE users SET full_name = 'Renamed Elsewhere' WHERE id = %s", user.user["id"]
    )
    await until(lambda: session_id(runtime, user) not in runtime.principal_cache._entries)
    assert (await client.get(ME, headers=user.headers)).json()["full_name"] == "Renamed Elsewhere"


async def test_truncate_forgets_everyone(client: httpx.AsyncClient, runtime: Runtime) -> None:
    first = await new_user(client, "trunc-1@example.com")
    second = await new_user(client, "trunc-2@example.com")
    await cached_me(client, runtime, first)
    await cached_me(client, runtime, second)
    await raw_execute(runtime, "TRUNCATE auth_sessions CASCADE")
    await until(lambda: len(runtime.principal_cache) == 0)
    for user in (first, second):
        assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")


@pytest.fixture
async def other_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A second API process on the same database (same settings, same secret key)."""
    assert settings.database_url is not None
    rt = build_runtime(settings, database_url=settings.database_url, secret_key=TEST_SECRET_KEY)
    yield rt
    await rt.close()


@pytest.fixture
async def other_client(other_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(other_runtime.settings, runtime=other_runtime)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_another_api_process_sees_a_logout(
    client: httpx.AsyncClient,
    runtime: Runtime,
    other_client: httpx.AsyncClient,
    other_runtime: Runtime,
) -> None:
    user = await new_user(client, "two-processes@example.com")
    await cached_me(client, runtime, user)
    await cached_me(other_client, other_runtime, user)
    assert (await client.post("/api/v1/auth/logout", headers=user.headers)).status_code == 204
    assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")
    await until_status(other_client, user, 401)


async def test_another_api_process_sees_a_suspension(
    client: httpx.AsyncClient,
    runtime: Runtime,
    other_client: httpx.AsyncClient,
    other_runtime: Runtime,
) -> None:
    admin = await platform_admin(client, runtime)
    user = await new_user(client, "two-processes-suspend@example.com")
    await cached_me(other_client, other_runtime, user)
    suspended = await client.patch(
        f"/api/v1/users/{user.user['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert suspended.status_code == 200
    await until_status(other_client, user, 401)


# -- the time to live ------------------------------------------------------------------------


async def test_an_entry_is_reloaded_after_its_time_to_live(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    """What no eviction reached (here: notifications ignored, a change made behind the
    runtime's back) is corrected once the TTL has passed."""
    cache = runtime.principal_cache
    ttl = runtime.settings.auth_cache_seconds
    user = await new_user(client, "ttl@example.com")
    await cached_me(client, runtime, user)
    with notifications_ignored(runtime):
        await raw_execute(
            runtime, "UPDATE users SET full_name = 'Unheard' WHERE id = %s", user.user["id"]
        )
        clock.advance(seconds=ttl - 1)
        hits, loads = counts(cache)
        assert (await client.get(ME, headers=user.headers)).json()["full_name"] == "Test User"
        assert counts(cache) == (hits + 1, loads)
        clock.advance(seconds=2)
        assert (await client.get(ME, headers=user.headers)).json()["full_name"] == "Unheard"
        assert counts(cache) == (hits + 1, loads + 1)
        # Reloaded with a fresh TTL: served from memory again.
        assert (await client.get(ME, headers=user.headers)).status_code == 200
        assert counts(cache) == (hits + 2, loads + 1)


@pytest.mark.parametrize("settings_overrides", [{"auth_cache_seconds": 0}])
async def test_a_zero_ttl_turns_the_cache_off(client: httpx.AsyncClient, runtime: Runtime) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "off@example.com")
    for _ in range(3):
        assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert cache.hits == 0 and len(cache) == 0
    assert not cache.listener.listening  # no connection is held for nothing


# -- the listener going down -----------------------------------------------------------------


@pytest.fixture
def reconnect_gate(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """While the event is clear, the listener's (re)connection waits."""
    listener = runtime.principal_cache.listener
    gate = asyncio.Event()
    gate.set()
    connect = listener._connect

    async def gated() -> psycopg.AsyncConnection[Any]:
        await gate.wait()
        return await connect()

    monkeypatch.setattr(listener, "_connect", gated)
    return gate


async def _down_then_up(
    client: httpx.AsyncClient,
    runtime: Runtime,
    gate: asyncio.Event,
    take_down: Callable[[], Awaitable[None]],
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "listener@example.com")
    await cached_me(client, runtime, user)
    gate.clear()
    await take_down()
    # The next request may be the one to notice (it reads pending notifications first).
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    await until(lambda: not cache.listener.listening)
    assert len(cache) == 0

    # While nobody listens, every request reads the database and nothing is kept.
    hits, loads = counts(cache)
    for _ in range(3):
        assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert counts(cache) == (hits, loads + 3)
    assert len(cache) == 0
    # A change made meanwhile is announced to nobody...
    await raw_execute(
        runtime, "UPDATE users SET full_name = 'Changed Unheard' WHERE id = %s", user.user["id"]
    )

    gate.set()
    await listening(runtime)
    assert len(cache) == 0
    # ... and still seen: serving resumes from an empty cache.
    me = await client.get(ME, headers=user.headers)
    assert me.json()["full_name"] == "Changed Unheard"
    assert counts(cache) == (hits, loads + 4)
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert counts(cache) == (hits + 1, loads + 4)


async def test_nothing_is_served_while_the_listener_is_killed(
    client: httpx.AsyncClient, runtime: Runtime, reconnect_gate: asyncio.Event
) -> None:
    await _down_then_up(client, runtime, reconnect_gate, lambda: kill_listener(runtime))


async def test_nothing_is_served_while_the_listener_connection_is_closed(
    client: httpx.AsyncClient, runtime: Runtime, reconnect_gate: asyncio.Event
) -> None:
    async def close() -> None:
        conn = runtime.principal_cache.listener._conn
        assert conn is not None
        # The link closes under the listener, as when the network drops it. Shut down, not
        # closed here: closing the descriptor under the task waiting on it would let a new
        # socket reuse its number while the event loop still has it registered.
        link = socket.socket(fileno=os.dup(conn.pgconn.socket))
        link.shutdown(socket.SHUT_RDWR)
        link.close()
        await until(lambda: not runtime.principal_cache.listener.listening)

    await _down_then_up(client, runtime, reconnect_gate, close)


async def test_a_load_that_raced_an_eviction_is_not_kept(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "race@example.com")
    await listening(runtime)
    fetch = cache._fetch
    read, release = asyncio.Event(), asyncio.Event()

    async def slow_fetch(sid: uuid.UUID) -> tuple[Any, ...] | None:
        row = await fetch(sid)
        read.set()
        await release.wait()
        return row

    monkeypatch.setattr(cache, "_fetch", slow_fetch)
    for evict in (lambda: cache.evict({uuid.UUID(user.user["id"])}), cache.clear):
        read.clear()
        release.clear()
        loading = asyncio.create_task(cache.get(session_id(runtime, user)))
        await read.wait()
        evict()  # the row just read may be the one the eviction was about
        release.set()
        found = await loading
        assert found is not None and found.is_active  # answered, but not kept
        assert len(cache) == 0
    # A load with no eviction meanwhile is kept.
    read.clear()
    release.set()
    await cache.get(session_id(runtime, user))
    assert len(cache) == 1


async def test_misses_survive_pooled_connections_the_server_dropped(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A database restart (or an idle timeout) leaves every pooled connection dead; each
    fails on first use. Requests must not fail for it: the pool replaces them."""
    cache = runtime.principal_cache
    users = [await new_user(client, f"stale-{i}@example.com") for i in range(6)]
    sids = [session_id(runtime, user) for user in users]
    await listening(runtime)
    # Concurrent misses open several connections.
    await asyncio.gather(*(cache.get(sid) for sid in sids * 3))
    pool = cache._pool
    assert pool is not None
    await until(lambda: pool.get_stats()["pool_available"] >= 2)
    pids = [conn.info.backend_pid for conn in list(pool._pool)]
    assert len(pids) >= 2
    await raw_execute(runtime, "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid", pids)
    await until(lambda: cache.listener.listening)  # the listener is not one of them
    for user in users:
        cache.clear()
        assert (await client.get(ME, headers=user.headers)).status_code == 200


# -- the token memo ----------------------------------------------------------------------------


def _tampered(token: str) -> list[str]:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return [
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}",
        f"{header}.{payload}.",
        f"{header}.{payload}",
    ]


async def test_the_token_memo_never_outlives_the_token(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    tokens = runtime.access_tokens
    user = await new_user(client, "memo-expiry@example.com")
    await cached_me(client, runtime, user)
    sid = session_id(runtime, user)
    memo = tokens._verified.cache_info()
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert tokens._verified.cache_info().hits > memo.hits  # answered from the memo
    clock.advance(seconds=tokens.ttl_seconds - 1)
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    clock.advance(seconds=1)  # exactly at the expiry: expired
    error = assert_envelope(await client.get(ME, headers=user.headers), 401, "UNAUTHORIZED")
    assert error["message"] == "Access token expired"
    with pytest.raises(Unauthorized):
        tokens.decode(user.access_token)
    # The principal of the session is still in memory; the token is refused all the same.
    assert sid in runtime.principal_cache._entries


async def test_a_tampered_token_is_never_served_from_the_memo(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tokens = runtime.access_tokens
    user = await new_user(client, "memo-tamper@example.com")
    await cached_me(client, runtime, user)
    size = tokens._verified.cache_info().currsize
    for forged in _tampered(user.access_token):
        for _ in range(2):  # refused the second time too: a failure is not remembered
            with pytest.raises(Unauthorized):
                tokens.decode(forged)
            response = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
            assert_envelope(response, 401, "UNAUTHORIZED")
    assert tokens._verified.cache_info().currsize == size
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_the_token_memo_is_bounded(runtime: Runtime) -> None:
    from saas_server.core.security import AccessTokens

    tokens = AccessTokens(TEST_SECRET_KEY, 900, memo_size=3)
    issued = [tokens.issue(uuid.uuid4(), uuid.uuid4()) for _ in range(10)]
    for token in issued:
        tokens.decode(token)
    assert tokens._verified.cache_info().currsize == 3
    assert tokens.decode(issued[0]).user_id  # forgotten, verified again


# -- what is kept, and what callers get --------------------------------------------------------


async def test_the_password_hash_is_never_cached(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "hash@example.com")
    await cached_me(client, runtime, user)
    async with runtime.db.sessionmaker() as session:
        row = await session.get(User, uuid.UUID(user.user["id"]))
        assert row is not None and row.password_hash
        password_hash = row.password_hash
    entry = cache._entries[session_id(runtime, user)]
    assert "password_hash" not in entry.user_values
    assert password_hash not in repr(entry)
    assert all(value != password_hash for value in entry.user_values.values())
    assert "password_hash" not in principal_cache_module._user_columns().query.as_string()
    principal = await authenticate(runtime, user.access_token)
    # Not None (which would look like "no password"): reading it is an error.
    with pytest.raises(DetachedInstanceError):
        _ = principal.user.password_hash


async def test_the_copy_is_what_make_transient_to_detached_makes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """``CachedPrincipal.user`` builds its copies by hand; they must be the detached
    instances SQLAlchemy's own ``make_transient_to_detached`` would make."""
    user = await new_user(client, "detached@example.com")
    await cached_me(client, runtime, user)
    entry = runtime.principal_cache._entries[session_id(runtime, user)]
    copy = entry.user()
    reference = inspect(User).class_manager.new_instance()
    reference.__dict__.update(entry.user_values)
    make_transient_to_detached(reference)
    ours, theirs = inspect(copy), inspect(reference)
    assert ours.detached and theirs.detached
    assert ours.key == theirs.key == (User, (uuid.UUID(user.user["id"]),), None)
    assert ours.expired_attributes == theirs.expired_attributes == {"password_hash"}
    assert ours.unloaded == theirs.unloaded
    assert not ours.modified and not ours.committed_state
    assert {k: v for k, v in copy.__dict__.items() if not k.startswith("_sa")} == entry.user_values
    async with runtime.db.sessionmaker() as session:
        # Usable like any detached row: merged without a query, then refreshed on demand.
        merged = await session.merge(copy, load=False)
        assert merged.email == "detached@example.com"
        await session.refresh(merged, ["password_hash"])
        assert merged.password_hash


async def test_each_principal_gets_its_own_copy_of_the_user(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cache = runtime.principal_cache
    user = await new_user(client, "copies@example.com")
    nested = {"team": {"tags": ["a", "b"]}}
    async with runtime.db.transaction() as session:
        await session.execute(
            update(User).where(User.id == uuid.UUID(user.user["id"])).values(metadata_=nested)
        )
    await cached_me(client, runtime, user)
    hits = cache.hits
    first = await authenticate(runtime, user.access_token)
    second = await authenticate(runtime, user.access_token)
    assert cache.hits == hits + 2
    assert first.user is not second.user
    assert inspect(first.user).detached and inspect(second.user).detached
    first.user.full_name = "Mallory"
    first.user.metadata_["team"]["tags"].append("evil")
    first.user.metadata_["new"] = True
    assert second.user.full_name == "Test User"
    assert second.user.metadata_ == nested
    third = await authenticate(runtime, user.access_token)
    assert third.user.full_name == "Test User"
    assert third.user.metadata_ == nested
    entry = cache._entries[session_id(runtime, user)]
    assert entry.user_values["metadata_"] == nested
    assert (await client.get(ME, headers=user.headers)).json()["metadata"] == nested


class _SlowPingConnection(psycopg.AsyncConnection[Any]):
    """The listener's connection, whose liveness ping takes a while (a busy server)."""

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        if query == "SELECT 1":
            query = "SELECT pg_sleep(1.5)"
        return await super().execute(query, *args, **kwargs)


async def test_a_change_made_while_the_listener_pings_is_seen_by_the_next_request(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During its ping the listening connection cannot read notifications (PostgreSQL
    sends them once the ping's query is over): no entry is trusted meanwhile."""
    cache = runtime.principal_cache
    listener = cache.listener

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await _SlowPingConnection.connect(listener.database_url, autocommit=True)

    monkeypatch.setattr(listener, "_connect", connect)
    monkeypatch.setattr(notifications, "PING_INTERVAL_SECONDS", 0.3)
    user = await new_user(client, "ping@example.com")
    await listening(runtime)
    marker = uuid.uuid4()
    await raw_execute(
        runtime, "SELECT pg_notify(%s, %s)", principal_cache_module.CHANNEL, str(marker)
    )
    await until(lambda: marker in cache._evicted_at, seconds=10)
    update_name = "UPDATE users SET full_name = %s WHERE id = %s"
    for round_ in range(3):
        await until(lambda: listener.listening and listener._idle, seconds=10)
        assert (await client.get(ME, headers=user.headers)).status_code == 200
        assert session_id(runtime, user) in cache._entries
        await until(lambda: listener.listening and not listener._idle, seconds=10)
        await raw_execute(runtime, update_name, f"Changed Mid-Ping {round_}", user.user["id"])
        me = await client.get(ME, headers=user.headers)
        assert me.json()["full_name"] == f"Changed Mid-Ping {round_}"
