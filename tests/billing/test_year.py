"""A year of one tenant on the manual provider (bank transfer), with the clock: trial, first
invoice, an upgrade mid-period (prorated to the cent), seats in Odoo, a renewal nobody pays
through dunning to suspension (instance stopped) and back on payment (instance started),
cancel at period end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.billing.renewals import run_renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.backups import ready_tenant
from tests.fixtures.billing import member_of, subscribe
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
def new_year(clock: FrozenClock) -> FrozenClock:
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    return clock


def subjects(inbox: Inbox, address: str) -> list[str]:
    return [str(mail.message["Subject"]) for mail in inbox.to(address)]


async def test_a_year_on_bank_transfer(
    new_year: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    clock = new_year
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    member = await member_of(client, runtime, inbox, owner, {"id": tenant.id})

    async def at(moment: datetime) -> tuple[LoggedIn, LoggedIn]:
        clock.set(moment)
        return await login(client, owner.email), await login(client, admin.email)

    async def renew() -> Any:
        report = await run_renewals(runtime)
        await runtime.run_pending_jobs()
        return report

    async def invoices(caller: LoggedIn) -> list[dict[str, Any]]:
        response = await client.get(
            "/api/v1/billing/invoices", params={"ordering": "number"}, headers=caller.headers
        )
        return response.json()["results"]  # type: ignore[no-any-return]

    async def mark_paid(caller: LoggedIn, invoice_id: str) -> None:
        response = await client.post(
            f"/api/v1/admin/invoices/{invoice_id}/actions",
            json={"action": "mark_paid"},
            headers=caller.headers,
        )
        assert response.status_code == 200, response.text
        await runtime.run_pending_jobs()

    async def state() -> tuple[str, bool, str]:
        got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=o.headers)
        detail = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=a.headers)).json()
        # is_active stays the record's own switch: only admins turn it, suspension does not.
        assert detail["is_active"] is True
        return got.json()["status"], detail["status"], detail["instance"]["status"]

    method = await client.post(
        "/api/v1/billing/payment-methods",
        json={"tenant_id": tenant.id, "type": "bank_transfer"},
        headers=owner.headers,
    )
    assert method.status_code == 201 and method.json()["is_default"] is True

    # January: a 14-day trial of the starter plan.
    subscription = await subscribe(client, owner, tenant.id, plan="starter")
    assert subscription["status"] == "trialing"
    assert subscription["trial_end"] == "2027-01-15T09:00:00Z"

    # The trial ends: the first period is invoiced; a bank transfer is awaited.
    o, a = await at(datetime(2027, 1, 15, 9, 0, tzinfo=UTC))
    assert (await renew()).renewed == 1
    [first] = await invoices(o)
    assert (first["number"], first["total_cents"], first["status"]) == (
        "INV-2027-000001",
        1900,
        "open",
    )
    assert await state() == ("active", "ready", "ready")
    await mark_paid(a, first["id"])

    # Ten days later (21 of 31 left) the owner upgrades: 1900 * 21/31 = 1287.10 credited,
    # 4900 * 21/31 = 3319.35 charged -> 1287 and 3319, 2032 due.
    o, a = await at(datetime(2027, 1, 25, 9, 0, tzinfo=UTC))
    upgraded = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}",
        json={"plan": "professional", "max_users": 10},
        headers=o.headers,
    )
    assert upgraded.status_code == 200, upgraded.text
    second = (await invoices(o))[1]
    detail = (
        await client.get(f"/api/v1/billing/invoices/{second['id']}", headers=o.headers)
    ).json()
    assert [line["amount_cents"] for line in detail["lines"]] == [-1287, 3319]
    assert detail["total_cents"] == 2032
    tenant_detail = (await client.get(f"/api/v1/tenants/{tenant.id}", headers=o.headers)).json()
    assert tenant_detail["tier"] == "professional"
    await mark_paid(a, second["id"])

    # A seat for the member is an Odoo user; removing it archives the user.
    seats = f"/api/v1/subscriptions/{subscription['id']}/users"
    added = await client.post(seats, json={"user_id": member.user["id"]}, headers=o.headers)
    assert added.status_code == 201
    await runtime.run_pending_jobs()
    odoo_user = {"login": member.email}

    def odoo_active() -> bool:
        rows = tenant.call(
            "res.users",
            "search_read",
            [["login", "=", odoo_user["login"]]],
            fields=["active"],
            context={"active_test": False},
        )
        return bool(rows and rows[0]["active"])

    assert odoo_active()
    await client.delete(f"{seats}/{member.user['id']}", headers=o.headers)
    await runtime.run_pending_jobs()
    assert not odoo_active()

    # February 15: the renewal's transfer never arrives.
    o, a = await at(datetime(2027, 2, 15, 9, 0, tzinfo=UTC))
    await renew()
    third = (await invoices(o))[2]
    assert (third["number"], third["total_cents"], third["due_at"]) == (
        "INV-2027-000003",
        4900,
        "2027-03-01T09:00:00Z",
    )
    # The renewal moved the Odoo database's expiry on: a year of the professional plan.
    expiry = tenant.call("ir.config_parameter", "get_param", "database.expiration_date")
    assert expiry == "2028-02-15 09:00:00"
    # Overdue on March 1: past due, retried on days 1, 3, 5, 7, the owner mailed each time.
    o, a = await at(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    await renew()
    assert await state() == ("past_due", "ready", "ready")
    assert subjects(inbox, owner.email).count(f"Payment failed for {tenant_detail['name']}") == 1
    o, a = await at(datetime(2027, 3, 6, 9, 0, tzinfo=UTC))
    await renew()
    assert await state() == ("past_due", "ready", "ready")
    o, a = await at(datetime(2027, 3, 8, 9, 0, tzinfo=UTC))
    await renew()
    assert await state() == ("unpaid", "suspended", "stopped")
    assert f"{tenant_detail['name']} is suspended" in subjects(inbox, owner.email)

    # The transfer arrives: active again, the instance started.
    await mark_paid(a, third["id"])
    assert await state() == ("active", "ready", "ready")
    assert f"{tenant_detail['name']} is active again" in subjects(inbox, owner.email)

    # Canceled at the period's end: nothing more is invoiced.
    canceled = await client.post(
        f"/api/v1/subscriptions/{subscription['id']}/cancel",
        json={"at_period_end": True},
        headers=o.headers,
    )
    assert canceled.json()["cancel_at_period_end"] is True
    o, a = await at(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))
    assert (await renew()).canceled == 1
    got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=o.headers)
    assert got.json()["status"] == "canceled"
    assert got.json()["end_date"] == "2027-03-15T09:00:00Z"
    o, a = await at(datetime(2027, 12, 31, 9, 0, tzinfo=UTC))
    await renew()
    assert len(await invoices(o)) == 3

    async with runtime.db.sessionmaker() as session:
        seen = set(
            (
                await session.execute(
                    select(OutboxEvent.type).where(OutboxEvent.tenant_id == tenant.id)
                )
            ).scalars()
        )
    assert {
        "subscription.created",
        "subscription.updated",
        "subscription.canceled",
        "invoice.created",
        "invoice.paid",
        "payment.succeeded",
        "payment.failed",
    } <= seen
