"""Proration to the cent, invoices numbered without gaps, tax by billing country, the PDF,
admin actions (mark paid, void, refund with a credit note), events."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from saas_server.billing.invoices import prorate, round_half_up
from saas_server.billing.service import mrr, revenue_totals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.billing import make_plan, member_of, subscribe, tenant_of
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "billing_tax_rates": {"DE": 1900},
        "billing_seller_name": "Cloud Seller GmbH",
        "billing_seller_address": "Hauptstrasse 1, Berlin",
    }


@pytest.fixture
def march(clock: FrozenClock) -> FrozenClock:
    """The clock on 2027-03-01, before anyone logs in (tokens follow the clock)."""
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    return clock


def test_rounding_is_half_up_on_integers() -> None:
    assert round_half_up(5, 2) == 3
    assert round_half_up(-5, 2) == -3
    assert round_half_up(86100, 31) == 2777
    assert prorate(8200, timedelta(days=21), timedelta(days=31)) == 5555
    assert prorate(100, timedelta(days=40), timedelta(days=31)) == 100  # capped


async def test_a_month_of_invoices_to_the_cent(
    march: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    clock: FrozenClock,
) -> None:
    team = await make_plan(client, admin)
    team_plus = await make_plan(client, admin, name="Team Plus", monthly_amount_cents=6200)
    tenant = await tenant_of(client, owner)
    details = await client.patch(
        f"/api/v1/tenants/{tenant['id']}/billing",
        json={"country": "de", "tax_id": "DE123456789", "billing_address": "Ring 5, Hamburg"},
        headers=owner.headers,
    )
    assert details.status_code == 200, details.text
    assert details.json()["tax_rate_basis_points"] == 1900

    subscription = await subscribe(client, owner, tenant["id"], plan=team["code"], max_users=3)
    assert subscription["status"] == "active"
    assert subscription["current_period_end"] == "2027-04-01T00:00:00Z"
    [first] = (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()[
        "results"
    ]
    # 3100 + one seat beyond the two included (1000) = 4100; 19 % tax = 779.
    assert first["number"] == "INV-2027-000001"
    assert (first["subtotal_cents"], first["tax_cents"], first["total_cents"]) == (4100, 779, 4879)
    assert first["status"] == "open" and first["payment_status"] == "unpaid"  # bank transfer
    assert first["due_at"] == "2027-03-15T00:00:00Z"
    assert first["buyer"]["tax_id"] == "DE123456789"
    assert first["buyer"]["address"] == "Ring 5, Hamburg"

    # Ten days in, 21 of March's 31 days are left: an upgrade with one more seat.
    clock.set(datetime(2027, 3, 11, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    upgraded = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}",
        json={"plan": team_plus["code"], "max_users": 4},
        headers=owner.headers,
    )
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["plan"] == team_plus["code"]
    listed = (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()
    second_id = next(i["id"] for i in listed["results"] if i["number"] == "INV-2027-000002")
    second = (
        await client.get(f"/api/v1/billing/invoices/{second_id}", headers=owner.headers)
    ).json()
    # Credit: 4100 * 21/31 = 2777.42 -> 2777. Charge: (6200 + 2 * 1000) * 21/31 = 5554.84 -> 5555.
    assert [(line["amount_cents"], line["proration"]) for line in second["lines"]] == [
        (-2777, True),
        (5555, True),
    ]
    # Subtotal 2778; tax 2778 * 19 % = 527.82 -> 528.
    assert (second["subtotal_cents"], second["tax_cents"], second["total_cents"]) == (
        2778,
        528,
        3306,
    )

    # A downgrade waits for the period's end: no invoice, the plan stays.
    down = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}",
        json={"plan": team["code"], "max_users": 2},
        headers=owner.headers,
    )
    assert down.json()["plan"] == team_plus["code"] and down.json()["max_users"] == 4
    assert (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()[
        "count"
    ] == 2

    # Admin actions: a transfer arrived for the first; the second is voided; a refund.
    actions = "/api/v1/admin/invoices/{}/actions"
    refused = await client.post(
        actions.format(first["id"]), json={"action": "mark_paid"}, headers=owner.headers
    )
    assert_envelope(refused, 403, "FORBIDDEN")
    paid = await client.post(
        actions.format(first["id"]), json={"action": "mark_paid"}, headers=admin.headers
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid" and paid.json()["amount_due_cents"] == 0
    voided = await client.post(
        actions.format(second_id), json={"action": "void"}, headers=admin.headers
    )
    assert voided.json()["status"] == "void"
    again = await client.post(
        actions.format(second_id), json={"action": "mark_paid"}, headers=admin.headers
    )
    assert_envelope(again, 409, "CONFLICT")
    note = await client.post(
        actions.format(first["id"]),
        json={"action": "refund", "amount_cents": 1000},
        headers=admin.headers,
    )
    assert note.status_code == 200, note.text
    credit = note.json()
    assert credit["kind"] == "credit_note" and credit["credits_invoice_id"] == first["id"]
    assert credit["number"] == "INV-2027-000003"
    assert (credit["subtotal_cents"], credit["tax_cents"], credit["total_cents"]) == (
        -1000,
        -190,
        -1190,
    )
    too_much = await client.post(
        actions.format(first["id"]),
        json={"action": "refund", "amount_cents": 3101},
        headers=admin.headers,
    )
    assert assert_envelope(too_much, 409, "CONFLICT")["details"] == {"creditable_cents": 3100}
    float_refund = await client.post(
        actions.format(first["id"]),
        json={"action": "refund", "amount_cents": 10.5},
        headers=admin.headers,
    )
    assert_envelope(float_refund, 422, "VALIDATION_ERROR")

    # Filters; members read; others get 404.
    member = await member_of(client, runtime, inbox, owner, tenant)
    paid_ones = await client.get(
        "/api/v1/billing/invoices", params={"status": "paid"}, headers=member.headers
    )
    assert {i["number"] for i in paid_ones.json()["results"]} == {
        "INV-2027-000001",
        "INV-2027-000003",
    }
    notes = await client.get(
        "/api/v1/billing/invoices", params={"kind": "credit_note"}, headers=owner.headers
    )
    assert [i["id"] for i in notes.json()["results"]] == [credit["id"]]
    none_yet = await client.get(
        "/api/v1/billing/invoices", params={"date_to": "2027-02-28"}, headers=owner.headers
    )
    assert none_yet.json()["count"] == 0
    outsider_tenant = await tenant_of(client, admin)
    assert outsider_tenant
    stranger = await member_of(client, runtime, inbox, admin, outsider_tenant)
    hidden = await client.get(f"/api/v1/billing/invoices/{first['id']}", headers=stranger.headers)
    assert_envelope(hidden, 404, "INVOICE_NOT_FOUND")
    assert_envelope(
        await client.get(f"/api/v1/billing/invoices/{first['id']}/pdf", headers=stranger.headers),
        404,
        "INVOICE_NOT_FOUND",
    )

    # The PDF, opened and read.
    pdf = await client.get(f"/api/v1/billing/invoices/{second_id}/pdf", headers=member.headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        "Invoice INV-2027-000002",
        "Cloud Seller GmbH",
        tenant["name"],
        "DE123456789",
        "-27.77 EUR",
        "55.55 EUR",
        "Tax (19.00%)",
        "33.06 EUR",
        "Due: 2027-03-25",
    ):
        assert expected in text, (expected, text)

    async with runtime.db.sessionmaker() as session:
        types = list(
            (
                await session.execute(
                    select(OutboxEvent.type)
                    .where(
                        OutboxEvent.tenant_id == tenant["id"],
                        OutboxEvent.type.like("invoice.%") | OutboxEvent.type.like("payment.%"),
                    )
                    .order_by(OutboxEvent.seq)
                )
            ).scalars()
        )
        # The admin stats' figures: collected money net of credit notes, and MRR.
        assert await revenue_totals(session) == {"EUR": 4879 - 1190}
        assert await mrr(session) == {"EUR": 6200 + 2 * 1000}
    assert types == [
        "invoice.created",
        "invoice.created",
        "invoice.paid",
        "payment.succeeded",
        "invoice.created",
    ]
