"""The outbox: whose event each row is (tenant, user), the user.* events, and the relay's
bookkeeping (an event nobody subscribes to is published at once, no job queued)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, text

from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.events.models import OutboxEvent
from tests.fixtures.auth import LoggedIn


async def user_events(runtime: Runtime, user_id: str) -> list[tuple[str, dict]]:
    async with runtime.db.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxEvent.type, OutboxEvent.data)
            .where(OutboxEvent.user_id == uuid.UUID(user_id))
            .order_by(OutboxEvent.seq)
        )
        return [(t, d) for t, d in rows.all()]


async def test_user_events_carry_their_user(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn, runtime: Runtime
) -> None:
    # Registration (the owner fixture) recorded user.created with the user's id.
    [(type_, data)] = await user_events(runtime, owner.user["id"])
    assert type_ == "user.created"
    assert data["email"] == owner.email and data["user_id"] == owner.user["id"]
    assert not any("password" in key for key in data)

    profile = await client.patch(
        "/api/v1/auth/profile", json={"full_name": "New Name"}, headers=owner.headers
    )
    assert profile.status_code == 200, profile.text
    # The same name again changes nothing and records nothing.
    await client.patch(
        "/api/v1/auth/profile", json={"full_name": "New Name"}, headers=owner.headers
    )

    created = await client.post(
        "/api/v1/users",
        json={"name": "Jo Doe", "email": "jo@example.com", "password": "a-secure-passphrase"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    jo = created.json()["id"]
    updated = await client.put(
        f"/api/v1/users/{jo}", json={"name": "Jo Updated"}, headers=admin.headers
    )
    assert updated.status_code == 200, updated.text
    assert (await client.delete(f"/api/v1/users/{jo}", headers=admin.headers)).status_code == 204

    assert [t for t, _ in await user_events(runtime, owner.user["id"])] == [
        "user.created",
        "user.updated",
    ]
    jo_events = await user_events(runtime, jo)
    assert [t for t, _ in jo_events] == ["user.created", "user.updated", "user.deleted"]
    assert "full_name" in jo_events[1][1]["changed"]


async def test_an_event_nobody_subscribes_to_is_published_at_once(runtime: Runtime) -> None:
    tenant_id = uuid.uuid4()
    async with runtime.db.transaction() as session:
        event = await events.emit(session, events.TENANT_UPDATED, {"n": 1}, tenant_id=tenant_id)
        assert event.published_at is not None
    async with runtime.db.sessionmaker() as session:
        jobs = (
            await session.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'webhooks.fan_out'")
            )
        ).scalar_one()
    assert jobs == 0


async def test_emit_many_records_in_order_and_tells_every_handler_of_every_event(
    runtime: Runtime,
) -> None:
    """emit_many (a renewal batch) is emit for many: seq follows the order given, each
    ``event_recorded`` handler gets each event, each ``events_recorded`` handler all of them
    at once, and an event nobody subscribes to is published at once, as with emit."""
    one_by_one: list[str] = []
    batches: list[list[str]] = []

    async def each(session: object, event: OutboxEvent) -> None:
        one_by_one.append(event.data["n"])

    async def batch(session: object, recorded: list[OutboxEvent]) -> None:
        batches.append([event.data["n"] for event in recorded])

    tenant_id = uuid.uuid4()
    events.event_recorded.connect(each)
    events.events_recorded.connect(batch)
    try:
        async with runtime.db.transaction() as session:
            await events.emit_many(
                session,
                [
                    events.NewEvent(type="invoice.created", data={"n": str(n)}, tenant_id=tenant_id)
                    for n in range(5)
                ],
            )
            await events.emit(session, "invoice.paid", {"n": "5"}, tenant_id=tenant_id)
    finally:
        events.event_recorded.disconnect(each)
        events.events_recorded.disconnect(batch)
    expected = [str(n) for n in range(6)]
    assert one_by_one == expected
    assert batches == [expected[:5], ["5"]]
    async with runtime.db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(OutboxEvent.data["n"].astext, OutboxEvent.published_at)
                .where(OutboxEvent.tenant_id == tenant_id)
                .order_by(OutboxEvent.seq)
            )
        ).all()
    assert [n for n, _ in rows] == expected
    assert all(published is not None for _, published in rows)  # no endpoint listens
