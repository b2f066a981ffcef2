"""Seats (seed 003) on a real tenant database in the emulator: a seat is an active internal
Odoo user; the member is mailed how to log in; past max_users 402 BILLING_ERROR."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.billing import member_of, subscribe
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


def odoo_users(tenant: Tenant) -> dict[str, dict[str, Any]]:
    """Every user of the tenant's database by login, archived ones included."""
    rows = tenant.call(
        "res.users",
        "search_read",
        [["login", "!=", "__system__"]],
        fields=["login", "active", "share"],
        context={"active_test": False},
    )
    return {row["login"]: row for row in rows}


def active_internal(tenant: Tenant) -> set[str]:
    return {
        login
        for login, row in odoo_users(tenant).items()
        if row["active"] and not row["share"] and login != tenant.login
    }


def odoo_login(tenant: Tenant, login: str, password: str) -> Any:
    return tenant.odoo.rpc("common", "authenticate", tenant.database, login, password, {})


async def seat_mail(inbox: Inbox, address: str, count: int) -> str:
    """The text of the ``count``-th seat mail to ``address`` (after waiting for it)."""
    for _ in range(100):
        found = [m for m in inbox.to(address) if m.message["Subject"].startswith("Your access")]
        if len(found) >= count:
            return found[count - 1].text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no seat mail #{count} for {address}")


def mailed_password(text: str) -> str:
    match = re.search(r"this password, then change it:\s+(\S+)\s", text)
    assert match, text
    return match.group(1)


async def test_seats_follow_into_odoo(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    subscription = await subscribe(client, owner, tenant.id, max_users=2)
    seats = f"/api/v1/subscriptions/{subscription['id']}/users"
    tenant_row = {"id": tenant.id}
    first, second, third = [
        await member_of(client, runtime, inbox, owner, tenant_row) for _ in range(3)
    ]

    added = await client.post(seats, json={"user_id": first.user["id"]}, headers=owner.headers)
    assert added.status_code == 201, added.text
    assert added.json() == {
        "subscription_id": subscription["id"],
        "user_id": first.user["id"],
        "success": True,
        "user_count": 1,
        "max_users": 2,
    }
    await runtime.run_pending_jobs()
    assert active_internal(tenant) == {first.email}
    password = mailed_password(await seat_mail(inbox, first.email, 1))
    assert isinstance(odoo_login(tenant, first.email, password), int)
    # Mailed, never logged (the test's SMTP receiver, mail.log, is the mailbox, not us).
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert ours and not any(password in message for message in ours)

    again = await client.post(seats, json={"user_id": first.user["id"]}, headers=owner.headers)
    assert again.status_code == 200 and again.json()["user_count"] == 1
    assert (
        await client.post(seats, json={"user_id": second.user["id"]}, headers=owner.headers)
    ).status_code == 201
    full = await client.post(seats, json={"user_id": third.user["id"]}, headers=owner.headers)
    error = assert_envelope(full, 402, "BILLING_ERROR")
    assert error["details"] == {"max_users": 2, "user_count": 2}
    assert "2 seats" in error["message"]

    # Only the owner changes seats; a non-member gets no seat.
    by_member = await client.post(seats, json={"user_id": third.user["id"]}, headers=first.headers)
    assert_envelope(by_member, 403, "FORBIDDEN")
    stranger = await client.post(seats, json={"user_id": admin.user["id"]}, headers=owner.headers)
    assert "user_id" in assert_envelope(stranger, 422, "VALIDATION_ERROR")["details"]

    listed = (await client.get(seats, headers=first.headers)).json()
    assert [u["email"] for u in listed] == [first.email, second.email]
    detail = (
        await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers)
    ).json()
    assert detail["user_count"] == 2 and detail["has_available_seats"] is False
    assert detail["subscribed_user_ids"] == [first.user["id"], second.user["id"]]
    lower = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}", json={"max_users": 1}, headers=owner.headers
    )
    assert "max_users" in assert_envelope(lower, 422, "VALIDATION_ERROR")["details"]

    await runtime.run_pending_jobs()
    assert active_internal(tenant) == {first.email, second.email}

    # A removed seat archives the Odoo user; the freed seat goes to someone else.
    removed = await client.delete(f"{seats}/{first.user['id']}", headers=owner.headers)
    assert removed.status_code == 200, removed.text
    assert removed.json()["user_count"] == 1
    assert_envelope(
        await client.delete(f"{seats}/{first.user['id']}", headers=owner.headers), 404, "NOT_FOUND"
    )
    assert (
        await client.post(seats, json={"user_id": third.user["id"]}, headers=owner.headers)
    ).status_code == 201
    await runtime.run_pending_jobs()
    assert active_internal(tenant) == {second.email, third.email}
    assert odoo_users(tenant)[first.email]["active"] is False

    # A user made in Odoo itself without a seat is archived at the next sync: Odoo never
    # holds more active internal users than the seats.
    tenant.call("res.users", "create", {"name": "Sneaky", "login": "sneaky@example.com"})
    await client.delete(f"{seats}/{third.user['id']}", headers=owner.headers)
    back = await client.post(seats, json={"user_id": first.user["id"]}, headers=owner.headers)
    assert back.status_code == 201
    await runtime.run_pending_jobs()
    assert active_internal(tenant) == {first.email, second.email}
    # Reactivated with the password they had, and told so.
    assert "password you used before" in await seat_mail(inbox, first.email, 2)
    assert isinstance(odoo_login(tenant, first.email, password), int)

    # Canceling the subscription archives every seat holder's user.
    await client.post(f"/api/v1/subscriptions/{subscription['id']}/cancel", headers=owner.headers)
    await runtime.run_pending_jobs()
    assert active_internal(tenant) == set()
