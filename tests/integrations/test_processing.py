"""Processing by kind, the retry schedule on the platform's clock, the event log and retries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from saas_server.audit.models import AuditEntry
from saas_server.auth.models import AuthSession
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.integrations.models import InboundEvent, InboundEventAttempt
from saas_server.integrations.processing import defer_due_retries
from saas_server.users.models import User
from tests.fixtures.auth import LoggedIn
from tests.fixtures.billing import make_plan, subscribe, tenant_of
from tests.fixtures.errors import assert_envelope
from tests.fixtures.integrations import create_provider, event_body, post_signed

EVENTS = "/api/v1/integrations/events"


async def event_row(runtime: Runtime, event_id: str) -> InboundEvent:
    async with runtime.db.sessionmaker() as session:
        return (
            await session.execute(select(InboundEvent).where(InboundEvent.event_id == event_id))
        ).scalar_one()


async def attempts_of(runtime: Runtime, event: InboundEvent) -> list[InboundEventAttempt]:
    async with runtime.db.sessionmaker() as session:
        return list(
            (
                await session.execute(
                    select(InboundEventAttempt)
                    .where(InboundEventAttempt.event_id == event.id)
                    .order_by(InboundEventAttempt.number)
                )
            ).scalars()
        )


async def user_by_email(runtime: Runtime, email: str) -> User | None:
    async with runtime.db.sessionmaker() as session:
        found: User | None = (
            await session.execute(select(User).where(User.email == email))
        ).scalar_one_or_none()
        return found


async def sweep(runtime: Runtime) -> int:
    queued = await defer_due_retries(runtime)
    await runtime.run_pending_jobs()
    return queued


async def test_a_failing_event_is_retried_at_60_120_240_seconds_then_fails(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    await create_provider(client, admin, name="users", kind="user_service")
    # An update for an external user nobody announced: every attempt fails.
    body = event_body("user.updated", "evt_orphan", user_id="ext-404", name="Nobody")
    assert (await post_signed(client, "users", body)).status_code == 202
    start = clock.now()
    await runtime.run_pending_jobs()
    event = await event_row(runtime, "evt_orphan")
    assert event.status == "retrying" and event.attempts == 1
    assert event.next_attempt_at == start + timedelta(seconds=60)
    assert event.last_error is not None and "USER_NOT_FOUND" in event.last_error

    # Not due yet: nothing happens.
    clock.advance(seconds=59)
    assert await sweep(runtime) == 0
    for retry, delay in enumerate((60, 120, 240), start=1):
        clock.set(event.next_attempt_at)  # type: ignore[arg-type]
        assert await sweep(runtime) == 1
        event = await event_row(runtime, "evt_orphan")
        assert event.attempts == retry + 1
        if retry < 3:
            assert event.status == "retrying"
            assert event.next_attempt_at == clock.now() + timedelta(seconds=delay * 2)
    assert event.status == "failed" and event.next_attempt_at is None
    attempts = await attempts_of(runtime, event)
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert [(a.started_at - start).total_seconds() for a in attempts] == [0, 60, 180, 420]
    assert not any(a.succeeded for a in attempts)
    # Later sweeps leave a failed event alone.
    clock.advance(hours=1)
    assert await sweep(runtime) == 0
    assert (await event_row(runtime, "evt_orphan")).attempts == 4


async def test_a_retry_succeeds_once_the_missing_user_arrives(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    await create_provider(client, admin, name="users", kind="user_service")
    update = event_body("user.updated", "evt_u", user_id="ext-7", name="Ada Lovelace")
    await post_signed(client, "users", update)
    await runtime.run_pending_jobs()
    assert (await event_row(runtime, "evt_u")).status == "retrying"

    create = event_body("user.created", "evt_c", user_id="ext-7", email="ada@example.com")
    await post_signed(client, "users", create)
    await runtime.run_pending_jobs()
    clock.advance(seconds=60)
    await sweep(runtime)
    event = await event_row(runtime, "evt_u")
    assert event.status == "processed" and event.attempts == 2
    user = await user_by_email(runtime, "ada@example.com")
    assert user is not None and user.full_name == "Ada Lovelace"


async def test_user_service_creates_updates_and_deactivates_the_linked_user(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="users", kind="user_service")
    await post_signed(
        client,
        "users",
        event_body("user.created", "e1", user_id="123", email="John@Example.com", name="John Doe"),
    )
    await runtime.run_pending_jobs()
    user = await user_by_email(runtime, "john@example.com")
    assert user is not None and user.is_active and user.full_name == "John Doe"
    assert user.password_hash is None  # set by the person through a password reset

    await post_signed(
        client,
        "users",
        event_body("user.updated", "e2", user_id="123", email="johnny@example.com"),
    )
    await runtime.run_pending_jobs()
    assert await user_by_email(runtime, "john@example.com") is None
    user = await user_by_email(runtime, "johnny@example.com")
    assert user is not None and user.full_name == "John Doe"

    await post_signed(client, "users", event_body("user.deleted", "e3", user_id="123"))
    await runtime.run_pending_jobs()
    user = await user_by_email(runtime, "johnny@example.com")
    assert user is not None and user.is_active is False
    assert (await event_row(runtime, "e3")).status == "processed"

    async with runtime.db.sessionmaker() as session:
        actions = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.new_values)
                .where(AuditEntry.resource_id == str(user.id))
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert [a.action for a in actions] == [
        "user.created",
        "integration_user.linked",
        "user.updated",
        "user.updated",
    ]
    assert actions[-1].new_values["is_active"] is False
    assert actions[-1].new_values["source"] == "integration:users"


async def test_a_deleted_external_user_loses_their_sessions(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="users", kind="user_service")
    # The external account of an existing platform user is linked by email.
    await post_signed(
        client, "users", event_body("user.created", "e1", user_id="9", email=owner.email)
    )
    await runtime.run_pending_jobs()
    assert (await event_row(runtime, "e1")).result == {
        "user_id": owner.user["id"],
        "action": "linked",
    }
    await post_signed(client, "users", event_body("user.deleted", "e2", user_id="9"))
    await runtime.run_pending_jobs()
    owner_id = uuid.UUID(owner.user["id"])
    async with runtime.db.sessionmaker() as session:
        live = (
            await session.execute(
                select(AuthSession).where(
                    AuthSession.user_id == owner_id, AuthSession.revoked_at.is_(None)
                )
            )
        ).all()
    assert live == []
    refused = await client.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": owner.password}
    )
    assert refused.status_code in (401, 403), refused.text
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 401


async def test_a_payment_service_settles_the_invoice_it_names_and_counts_a_failure(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="payments", kind="payment_service")
    plan = await make_plan(client, admin)
    tenant = await tenant_of(client, owner)
    await subscribe(client, owner, tenant["id"], plan=plan["code"])
    [invoice] = (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()[
        "results"
    ]
    assert invoice["status"] == "open"  # a bank transfer, not in yet

    failed = event_body("payment.failed", "evt_455", invoice_id=invoice["id"], reason="refused")
    assert (await post_signed(client, "payments", failed)).status_code == 202
    await runtime.run_pending_jobs()
    assert (await event_row(runtime, "evt_455")).status == "processed"
    after_failure = await client.get(
        f"/api/v1/billing/invoices/{invoice['id']}", headers=owner.headers
    )
    assert after_failure.json()["status"] == "open"

    body = event_body("payment.succeeded", "evt_456", invoice_id=invoice["id"], payment_id="p1")
    assert (await post_signed(client, "payments", body)).status_code == 202
    await runtime.run_pending_jobs()
    event = await event_row(runtime, "evt_456")
    assert event.status == "processed", event.last_error
    paid = await client.get(f"/api/v1/billing/invoices/{invoice['id']}", headers=owner.headers)
    assert paid.json()["status"] == "paid"
    async with runtime.db.sessionmaker() as session:
        types = list(
            (
                await session.execute(
                    select(OutboxEvent.type)
                    .where(OutboxEvent.type.startswith("payment."))
                    .order_by(OutboxEvent.seq)
                )
            ).scalars()
        )
    assert types == ["payment.failed", "payment.succeeded"]

    # The same event again is acknowledged, not applied twice; an unknown invoice fails.
    assert (await post_signed(client, "payments", body)).status_code == 200
    unknown = event_body("payment.succeeded", "evt_457", invoice_id=str(uuid.uuid4()))
    assert (await post_signed(client, "payments", unknown)).status_code == 202
    await runtime.run_pending_jobs()
    assert (await event_row(runtime, "evt_457")).status != "processed"


async def test_payment_service_subscription_events_are_kept_unhandled(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="payments", kind="payment_service")
    body = event_body("subscription.created", "evt_458", subscription_id="sub_1", amount=1000)
    assert (await post_signed(client, "payments", body)).status_code == 202
    await runtime.run_pending_jobs()
    event = await event_row(runtime, "evt_458")
    assert event.status == "unhandled" and event.attempts == 0
    assert event.last_error is not None and "No handler is connected" in event.last_error
    assert event.payload["data"]["amount"] == 1000


async def test_the_event_log_filters_shows_attempts_and_retries_by_hand(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="users", kind="user_service")
    await create_provider(client, admin, name="crm")
    await post_signed(client, "crm", event_body("deal.won", "evt_crm"))
    await post_signed(client, "users", event_body("user.updated", "evt_bad", user_id="x", name="X"))
    await runtime.run_pending_jobs()

    listed = await client.get(EVENTS, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 2
    first = listed.json()["results"][0]
    assert {"id", "event_type", "event_id", "provider", "status", "created_at"} <= set(first)

    by_provider = await client.get(EVENTS, params={"provider": "crm"}, headers=admin.headers)
    assert [e["event_id"] for e in by_provider.json()["results"]] == ["evt_crm"]
    by_status = await client.get(EVENTS, params={"status": "retrying"}, headers=admin.headers)
    assert [e["event_id"] for e in by_status.json()["results"]] == ["evt_bad"]
    by_type = await client.get(EVENTS, params={"event_type": "deal.won"}, headers=admin.headers)
    assert by_type.json()["count"] == 1
    later = await client.get(EVENTS, params={"date_from": "2999-01-01"}, headers=admin.headers)
    assert later.json()["count"] == 0
    assert_envelope(
        await client.get(EVENTS, params={"status": "odd"}, headers=admin.headers),
        422,
        "VALIDATION_ERROR",
    )
    assert_envelope(await client.get(EVENTS, headers=owner.headers), 403, "FORBIDDEN")

    bad = await event_row(runtime, "evt_bad")
    detail = await client.get(f"{EVENTS}/{bad.id}", headers=admin.headers)
    assert detail.status_code == 200
    [attempt] = detail.json()["attempt_log"]
    assert attempt["succeeded"] is False and "USER_NOT_FOUND" in attempt["error"]
    assert detail.json()["payload"]["data"] == {"user_id": "x", "name": "X"}

    # The user appears; a retry by hand processes the event now, without waiting.
    await post_signed(
        client, "users", event_body("user.created", "evt_new", user_id="x", email="x@example.com")
    )
    await runtime.run_pending_jobs()
    retried = await client.post(f"{EVENTS}/{bad.id}/retry", headers=admin.headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "pending"
    await runtime.run_pending_jobs()
    done = (await client.get(f"{EVENTS}/{bad.id}", headers=admin.headers)).json()
    assert done["status"] == "processed"
    assert [a["manual"] for a in done["attempt_log"]] == [False, True]

    # Processed events are never processed twice.
    again = await client.post(f"{EVENTS}/{bad.id}/retry", headers=admin.headers)
    assert_envelope(again, 409, "CONFLICT")
    assert_envelope(
        await client.get(f"{EVENTS}/{uuid.uuid4()}", headers=admin.headers),
        404,
        "EVENT_NOT_FOUND",
    )
    async with runtime.db.sessionmaker() as session:
        audited = (
            await session.execute(
                select(AuditEntry.action).where(AuditEntry.resource_id == str(bad.id))
            )
        ).scalars()
        assert list(audited) == ["integration_event.retried"]


async def test_events_of_a_removed_provider_fail_clearly_and_stay_in_the_log(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    provider = await create_provider(client, admin, name="users", kind="user_service")
    body = event_body("user.created", "evt_gone", user_id="1", email="gone@example.com")
    await post_signed(client, "users", body)
    removed = await client.delete(
        f"/api/v1/integrations/providers/{provider['id']}", headers=admin.headers
    )
    assert removed.status_code == 204
    await runtime.run_pending_jobs()
    event = await event_row(runtime, "evt_gone")
    assert event.source == "users" and event.provider_id is None
    assert event.status == "retrying"
    assert event.last_error is not None and "PROVIDER_NOT_FOUND" in event.last_error
    assert await user_by_email(runtime, "gone@example.com") is None
    listed = await client.get(EVENTS, params={"provider": "users"}, headers=admin.headers)
    assert [e["event_id"] for e in listed.json()["results"]] == ["evt_gone"]


async def test_the_intake_bodies_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    intake = spec["paths"]["/api/v1/integrations/webhooks/{provider}"]["post"]
    schema = intake["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["event_type", "event_id"]
    assert {"200", "202", "401", "404", "422", "429"} <= set(intake["responses"])
    odoo = spec["paths"]["/api/v1/odoo/webhook"]["post"]
    assert "database" in odoo["requestBody"]["content"]["application/json"]["schema"]["required"]
