"""``Idempotency-Key`` on POST /tenants, over HTTP: the same key and body answer the first
answer again and create one tenant; the same key with another body is a 409."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.tenants.models import Tenant
from saas_server.tenants.tasks import forget_expired_idempotency_keys
from tests.fixtures.auth import LoggedIn, login, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox

TENANTS = "/api/v1/tenants"


async def tenants_named(runtime: Runtime, subdomain: str) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(Tenant).where(Tenant.subdomain == subdomain)
                )
            ).scalar_one()
        )


async def created_events(runtime: Runtime) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.type == "tenant.created")
                )
            ).scalar_one()
        )


async def test_the_same_key_and_body_create_one_tenant_and_answer_the_first_answer(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime, inbox: Inbox
) -> None:
    body = {"name": "Acme", "subdomain": "acme"}
    headers = {**owner.headers, "Idempotency-Key": "create-acme-1"}
    first = await client.post(TENANTS, json=body, headers=headers)
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    again = await client.post(TENANTS, json=body, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await tenants_named(runtime, "acme") == 1
    assert await created_events(runtime) == 1

    # The same key with another request: refused, nothing done.
    other = await client.post(TENANTS, json={**body, "name": "Acme Two"}, headers=headers)
    assert_envelope(other, 409, "CONFLICT")
    elsewhere = await client.post(TENANTS, json={"name": "B", "subdomain": "beta"}, headers=headers)
    assert_envelope(elsewhere, 409, "CONFLICT")
    assert await tenants_named(runtime, "beta") == 0

    # Without the key the request runs again (and meets the tenant it made).
    without = await client.post(TENANTS, json=body, headers=owner.headers)
    assert_envelope(without, 400, "INVALID_SUBDOMAIN")

    # Keys are per user: another user's same key is theirs.
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    theirs = await client.post(
        TENANTS,
        json={"name": "Gamma", "subdomain": "gamma"},
        headers={**stranger.headers, "Idempotency-Key": "create-acme-1"},
    )
    assert theirs.status_code == 202, theirs.text
    assert await tenants_named(runtime, "gamma") == 1


async def test_a_failed_request_stores_nothing_and_a_bad_key_is_refused(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    taken = await client.post(
        TENANTS, json={"name": "T", "subdomain": "taken"}, headers=owner.headers
    )
    assert taken.status_code == 202, taken.text
    headers = {**owner.headers, "Idempotency-Key": "retry-after-error"}
    again = await client.post(TENANTS, json={"name": "X", "subdomain": "taken"}, headers=headers)
    assert_envelope(again, 400, "INVALID_SUBDOMAIN")
    # The retry with the body corrected runs: the failure was not stored as the answer.
    fixed = await client.post(TENANTS, json={"name": "X", "subdomain": "fixed"}, headers=headers)
    assert fixed.status_code == 202, fixed.text
    too_long = await client.post(
        TENANTS,
        json={"name": "Y", "subdomain": "long"},
        headers={**owner.headers, "Idempotency-Key": "k" * 256},
    )
    assert_envelope(too_long, 422, "VALIDATION_ERROR")
    assert await tenants_named(runtime, "long") == 0


async def test_answers_are_forgotten_after_the_retention(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    """Kept `idempotency_key_retention_hours` (24): the hourly job forgets older answers, and
    the key then starts a new request."""
    clock.set(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    owner = await login(client, owner.email)
    headers = {**owner.headers, "Idempotency-Key": "kept-a-day"}
    first = await client.post(TENANTS, json={"name": "A", "subdomain": "daykept"}, headers=headers)
    assert first.status_code == 202, first.text

    clock.set(datetime(2027, 3, 2, 8, 59, tzinfo=UTC))  # 23 h 59 min later: still kept
    await forget_expired_idempotency_keys(runtime)
    owner = await login(client, owner.email)
    headers = {**owner.headers, "Idempotency-Key": "kept-a-day"}
    other = await client.post(TENANTS, json={"name": "B", "subdomain": "nextday"}, headers=headers)
    assert_envelope(other, 409, "CONFLICT")

    clock.set(datetime(2027, 3, 2, 9, 1, tzinfo=UTC))  # past the day: forgotten
    await forget_expired_idempotency_keys(runtime)
    owner = await login(client, owner.email)
    headers = {**owner.headers, "Idempotency-Key": "kept-a-day"}
    fresh = await client.post(TENANTS, json={"name": "B", "subdomain": "nextday"}, headers=headers)
    assert fresh.status_code == 202, fresh.text
    assert await tenants_named(runtime, "nextday") == 1
