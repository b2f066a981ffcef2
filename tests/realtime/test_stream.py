"""The event stream through real servers: what each caller sees, resuming, two processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.events.models import OutboxEvent
from saas_server.users.models import User
from saas_server.webhooks.visibility import reader_of
from tests.fixtures.auth import LoggedIn, login, register, verified_user
from tests.fixtures.live_server import running_server
from tests.fixtures.smtp import Inbox
from tests.fixtures.sse import event_stream
from tests.fixtures.tenants import create_tenant

STREAM = "/api/v1/events/stream"
# A stopping server ends its streams: on SIGTERM sse-starlette ends them at once; here (no
# signal, a thread) uvicorn's graceful shutdown (5 s in live_server) cancels them.
STOP_SECONDS = 15.0


async def _tenant_created(base_url: str, owner: LoggedIn, subdomain: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return str((await create_tenant(client, owner, subdomain))["id"])


async def test_a_tenant_created_shows_on_its_owners_stream_and_not_on_a_strangers(
    live_server: str, client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn
) -> None:
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    async with (
        event_stream(live_server, owner.headers) as owners,
        event_stream(live_server, stranger.headers) as strangers,
    ):
        tenant_id = await _tenant_created(live_server, owner, "acme")
        message = await owners.next_event()
        assert message.event == "tenant.created"
        body = message.body
        assert body["type"] == "tenant.created"
        assert body["data"]["tenant_id"] == tenant_id
        assert body["timestamp"]
        assert int(message.id or "0") > 0
        # The stranger's next event is their own tenant's: the owner's never reached them.
        own_id = await _tenant_created(live_server, stranger, "other")
        seen = await strangers.next_event()
        assert seen.event == "tenant.created"
        assert seen.id != message.id
        assert own_id in seen.data and tenant_id not in seen.data


async def _renamed(base_url: str, owner: LoggedIn, tenant_id: str, name: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        changed = await http.patch(
            f"/api/v1/tenants/{tenant_id}", json={"name": name}, headers=owner.headers
        )
        assert changed.status_code == 200, changed.text


async def _visible_seqs_after(runtime: Runtime, user_id: str, after: int) -> list[int]:
    async with runtime.db.sessionmaker() as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        reader = await reader_of(session, user)
        rows = await session.execute(
            select(OutboxEvent).where(OutboxEvent.seq > after).order_by(OutboxEvent.seq)
        )
        return [event.seq for event in rows.scalars() if reader.can_read(event)]


async def test_last_event_id_resumes_without_loss_or_duplicates(
    live_server: str, runtime: Runtime, owner: LoggedIn
) -> None:
    async with event_stream(live_server, owner.headers) as first:
        kept = await _tenant_created(live_server, owner, "first")
        last = await first.next_event()
    assert last.id is not None
    # Events while the client is away...
    await _renamed(live_server, owner, kept, "Renamed Ltd")
    missed = [kept, await _tenant_created(live_server, owner, "second")]
    expected = await _visible_seqs_after(runtime, owner.user["id"], int(last.id))
    assert len(expected) >= 2
    # ... are replayed on reconnection, by header or by query parameter, then live ones.
    for headers, path in (
        ({**owner.headers, "Last-Event-ID": last.id}, STREAM),
        (owner.headers, f"{STREAM}?last_event_id={last.id}"),
    ):
        async with event_stream(live_server, headers, path) as resumed:
            assert [int(m.id or "0") for m in resumed.replayed] == expected
            assert all(m.event and m.body["type"] == m.event for m in resumed.replayed)
            replayed = "".join(m.data for m in resumed.replayed)
            assert all(tenant_id in replayed for tenant_id in missed)
            await _renamed(live_server, owner, kept, f"Live {len(path)}")
            live = await resumed.next_event()
            assert int(live.id or "0") > expected[-1]
            assert live.event == "tenant.updated"
            assert f"Live {len(path)}" in live.data
        expected = await _visible_seqs_after(runtime, owner.user["id"], int(last.id))


async def test_an_event_caused_through_one_process_reaches_a_stream_on_another(
    live_server: str, settings: Settings, owner: LoggedIn
) -> None:
    with running_server(settings) as second_url:
        async with event_stream(second_url, owner.headers) as on_second:
            tenant_id = await _tenant_created(live_server, owner, "elsewhere")
            message = await on_second.next_event()
            assert message.event == "tenant.created"
            assert tenant_id in message.data


async def test_narrowed_to_a_tenant_the_stream_carries_only_its_events(
    live_server: str, owner: LoggedIn
) -> None:
    kept = await _tenant_created(live_server, owner, "kept")
    async with event_stream(live_server, owner.headers, f"{STREAM}?tenant_id={kept}") as narrowed:
        await _tenant_created(live_server, owner, "ignored")
        await _renamed(live_server, owner, kept, "Kept Again")
        message = await narrowed.next_event()
        assert message.event == "tenant.updated"
        assert kept in message.data


async def test_someone_elses_tenant_is_404_and_no_credentials_401(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn
) -> None:
    tenant_id = (await create_tenant(client, owner, "private"))["id"]
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    for narrowed in (tenant_id, str(uuid.uuid4()), "not-an-id"):
        response = await client.get(f"{STREAM}?tenant_id={narrowed}", headers=stranger.headers)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "TENANT_NOT_FOUND"
    response = await client.get(STREAM)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"]
    bad = await client.get(STREAM, headers={**owner.headers, "Last-Event-ID": "yesterday"})
    assert bad.status_code == 422, bad.text


async def test_an_api_key_needs_the_events_read_scope(
    live_server: str, client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    keys = {}
    for scopes in (["events:read"], ["tenants:read"]):
        created = await client.post(
            "/api/v1/api-keys", json={"name": scopes[0], "scopes": scopes}, headers=owner.headers
        )
        assert created.status_code == 201, created.text
        keys[scopes[0]] = {"X-API-Key": created.json()["key"]}
    refused = await client.get(STREAM, headers=keys["tenants:read"])
    assert refused.status_code == 403, refused.text
    async with event_stream(live_server, keys["events:read"]) as by_key:
        tenant_id = await _tenant_created(live_server, owner, "keyed")
        message = await by_key.next_event()
        assert message.event == "tenant.created"
        assert tenant_id in message.data


async def test_a_key_confined_to_one_tenant_streams_that_tenant_s_events_only(
    live_server: str, client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    mine = (await create_tenant(client, owner, "mine"))["id"]
    other = (await create_tenant(client, owner, "other"))["id"]
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "confined", "scopes": ["events:read"], "tenant_id": mine},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}
    # Another tenant's id (the user's own, or no tenant at all) is 404, as in a path.
    for elsewhere in (other, other.upper(), str(uuid.uuid4()), "not-an-id"):
        response = await client.get(f"{STREAM}?tenant_id={elsewhere}", headers=key)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "TENANT_NOT_FOUND"
    twice = await client.get(f"{STREAM}?tenant_id={mine}&tenant_id={other}", headers=key)
    assert twice.status_code == 404, twice.text
    # Its own tenant named, or none: the stream carries that tenant's events and no other's.
    paths = (f"{STREAM}?tenant_id={mine}", f"{STREAM}?tenant_id={mine.upper()}", STREAM)
    for turn, path in enumerate(paths):
        async with event_stream(live_server, key, path) as confined:
            # A new name each turn (a rename to the same name changes nothing and emits
            # nothing: the id's last characters are the same upper-cased when all digits).
            await _renamed(live_server, owner, other, f"Not Seen {turn}")
            await _renamed(live_server, owner, mine, f"Seen {turn}")
            message = await confined.next_event()
            assert message.event == "tenant.updated", path
            assert mine in message.data and other not in message.data, path


async def test_a_server_stopping_ends_its_open_streams(settings: Settings, owner: LoggedIn) -> None:
    server = running_server(settings)
    url = server.__enter__()
    stopping: asyncio.Future[Any] | None = None
    try:
        async with event_stream(url, owner.headers) as open_stream:
            started = time.monotonic()
            loop = asyncio.get_running_loop()
            stopping = loop.run_in_executor(None, server.__exit__, None, None, None)
            with pytest.raises((StopAsyncIteration, httpx.HTTPError)):
                await open_stream.next_event(timeout=STOP_SECONDS)
            assert time.monotonic() - started < STOP_SECONDS
    finally:
        if stopping is None:
            server.__exit__(None, None, None)
        else:
            await asyncio.wait_for(stopping, STOP_SECONDS)


async def test_a_manager_removed_from_a_tenant_stops_receiving_its_events_at_once(
    live_server: str, client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn
) -> None:
    tenant_id = (await create_tenant(client, owner, "shared"))["id"]
    manager = await verified_user(client, runtime, inbox, "manager@example.com")
    added = await client.post(
        f"/api/v1/tenants/{tenant_id}/users",
        json={"email": "manager@example.com", "role": "admin"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    async with event_stream(live_server, manager.headers) as managers:
        await _renamed(live_server, owner, tenant_id, "While Managing")
        seen = await managers.next_event()
        assert seen.event == "tenant.updated" and "While Managing" in seen.data
        removed = await client.delete(
            f"/api/v1/tenants/{tenant_id}/users/{manager.user['id']}", headers=owner.headers
        )
        assert removed.status_code == 204, removed.text
        await _renamed(live_server, owner, tenant_id, "After Removal")
        own_id = await _tenant_created(live_server, manager, "mine")
        while True:  # up to the manager's own tenant: nothing of the one they left
            message = await managers.next_event()
            assert "After Removal" not in message.data
            if message.event == "tenant.created" and own_id in message.data:
                break


# An open stream ends this soon after its caller's key or session ends: the change is heard
# (saas_auth_changed), well before the periodic re-check (service.RECHECK_SECONDS).
ENDS_WITHIN_SECONDS = 3.0


async def _ends(stream: Any, within: float) -> None:
    started = time.monotonic()
    with pytest.raises((StopAsyncIteration, httpx.HTTPError)):
        while True:  # pings or events until it ends
            await stream.next(timeout=within)
    assert time.monotonic() - started < within


async def _key(client: httpx.AsyncClient, who: LoggedIn, **extra: Any) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "stream", "scopes": ["events:read"], **extra},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def test_a_stream_ends_when_its_key_is_revoked_on_this_process_or_another(
    live_server: str, settings: Settings, client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    with running_server(settings) as second_url:
        for url in (live_server, second_url):
            key = await _key(client, owner)
            async with event_stream(url, {"X-API-Key": key["key"]}) as by_key:
                async with httpx.AsyncClient(base_url=live_server, timeout=60) as first:
                    revoked = await first.delete(
                        f"/api/v1/api-keys/{key['id']}", headers=owner.headers
                    )
                assert revoked.status_code == 204, revoked.text
                await _ends(by_key, ENDS_WITHIN_SECONDS)
            refused = await client.get(STREAM, headers={"X-API-Key": key["key"]})
            assert refused.status_code == 401, refused.text


async def test_a_stream_ends_when_its_key_expires(
    live_server: str, client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    from datetime import UTC, datetime, timedelta

    from saas_server.realtime.service import RECHECK_SECONDS

    expires = datetime.now(UTC) + timedelta(seconds=2)
    key = await _key(client, owner, expires_at=expires.isoformat())
    async with event_stream(live_server, {"X-API-Key": key["key"]}) as by_key:
        await _ends(by_key, 2 + RECHECK_SECONDS + ENDS_WITHIN_SECONDS)


async def test_a_stream_ends_when_its_session_logs_out_or_its_user_is_suspended(
    live_server: str, client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, admin: LoggedIn
) -> None:
    user = await verified_user(client, runtime, inbox, "leaving@example.com")
    async with event_stream(live_server, user.headers) as by_session:
        logout = await client.post(
            "/api/v1/auth/logout", json={"refresh_token": user.refresh_token}, headers=user.headers
        )
        assert logout.status_code in (200, 204), logout.text
        await _ends(by_session, ENDS_WITHIN_SECONDS)

    again = await verified_user(client, runtime, inbox, "suspended@example.com")
    key = await _key(client, again)
    async with (
        event_stream(live_server, again.headers) as by_session,
        event_stream(live_server, {"X-API-Key": key["key"]}) as by_key,
    ):
        suspended = await client.patch(
            f"/api/v1/users/{again.user['id']}", json={"is_active": False}, headers=admin.headers
        )
        assert suspended.status_code == 200, suspended.text
        await _ends(by_session, ENDS_WITHIN_SECONDS)
        await _ends(by_key, ENDS_WITHIN_SECONDS)


async def test_member_and_invitation_events_reach_the_tenant_s_managers_stream(
    live_server: str, client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn
) -> None:
    tenant_id = (await create_tenant(client, owner, "people"))["id"]
    colleague = await verified_user(client, runtime, inbox, "colleague@example.com")
    members = f"/api/v1/tenants/{tenant_id}/users"
    async with event_stream(live_server, owner.headers) as owners:

        async def next_of(type_: str) -> dict[str, Any]:
            while True:  # provisioning's own events may come between
                message = await owners.next_event()
                if message.event == type_:
                    return message.body["data"]  # type: ignore[no-any-return]

        added = await client.post(
            members, json={"user_id": colleague.user["id"], "role": "member"}, headers=owner.headers
        )
        assert added.status_code == 201, added.text
        data = await next_of("member.added")
        assert data["tenant_id"] == tenant_id and data["user_id"] == colleague.user["id"]
        assert data["role"] == "member" and data["actor_id"] == owner.user["id"]

        changed = await client.patch(
            f"{members}/{colleague.user['id']}", json={"role": "admin"}, headers=owner.headers
        )
        assert changed.status_code == 200, changed.text
        data = await next_of("member.role_changed")
        assert (data["role"], data["previous_role"]) == ("admin", "member")

        removed = await client.delete(f"{members}/{colleague.user['id']}", headers=owner.headers)
        assert removed.status_code == 204, removed.text
        data = await next_of("member.removed")
        assert data["user_id"] == colleague.user["id"] and data["left"] is False

        invited = await client.post(
            members, json={"email": "newcomer@example.com", "role": "admin"}, headers=owner.headers
        )
        assert invited.status_code == 202, invited.text
        data = await next_of("invitation.created")
        assert (
            data["email"] == "newcomer@example.com"
            and data["invitation_id"] == invited.json()["id"]
        )

        await runtime.run_pending_jobs()
        token = (await inbox.wait_for("newcomer@example.com")).token()
        await register(client, "newcomer@example.com")
        newcomer = await login(client, "newcomer@example.com")
        accepted = await client.post(
            "/api/v1/invitations/accept", json={"token": token}, headers=newcomer.headers
        )
        assert accepted.status_code == 200, accepted.text
        data = await next_of("invitation.accepted")
        assert data["user_id"] == newcomer.user["id"] and data["role"] == "admin"
        data = await next_of("member.added")
        assert data["user_id"] == newcomer.user["id"]
