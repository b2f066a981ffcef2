"""`saas billing`: plans, subscriptions, invoices, and the renewal run at a given time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from saas_server.billing.models import Plan, Subscription
from saas_server.core.runtime import Runtime
from tests.fixtures.cli import cli


@pytest.fixture
async def due_subscription(runtime: Runtime) -> str:
    """A trial of the starter plan that ended a month ago, on a tenant of its own (made in
    the database: the CLI is what is tested here)."""
    from saas_server.tenants.models import Tenant

    ended = datetime.now(UTC) - timedelta(days=30)
    async with runtime.db.transaction() as session:
        tenant = Tenant(name="Cli Ltd", subdomain="clibilling", status="ready")
        session.add(tenant)
        await session.flush()
        plan = (await session.execute(select(Plan).where(Plan.code == "starter"))).scalar_one()
        subscription = Subscription(
            tenant_id=tenant.id,
            plan_id=plan.id,
            status="trialing",
            billing_cycle="monthly",
            max_users=5,
            start_date=ended - timedelta(days=14),
            current_period_start=ended - timedelta(days=14),
            current_period_end=ended,
            trial_end=ended,
        )
        session.add(subscription)
        await session.flush()
        return str(subscription.id)


def parsed(out: str) -> Any:
    """The JSON document of the output (log lines on standard error are mixed in)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line in ("[", "{") or line == "[]")
    return json.loads("\n".join(lines[start:]))


def test_billing_commands(runtime: Runtime, due_subscription: str) -> None:
    code, out = cli(runtime, ["billing", "plans", "--json"])
    assert code == 0, out
    assert [p["code"] for p in parsed(out)] == ["starter", "professional", "enterprise"]
    code, out = cli(runtime, ["billing", "plans"])
    assert code == 0 and "19.00 USD" in out

    # Rehearsing a time before the trial's end does nothing.
    code, out = cli(runtime, ["billing", "run-renewals", "--at", "2020-01-01T00:00", "--json"])
    assert code == 0, out
    assert parsed(out)["renewed"] == 0
    code, out = cli(runtime, ["billing", "run-renewals", "--json"])
    assert code == 0, out
    report = parsed(out)
    # No payment method at the trial's end: invoiced, and suspended at once.
    assert (report["renewed"], report["suspended"]) == (1, 1)

    code, out = cli(runtime, ["billing", "subscriptions", "--json", "--status", "unpaid"])
    assert code == 0, out
    assert [s["id"] for s in parsed(out)] == [due_subscription]
    code, out = cli(runtime, ["billing", "invoices"])
    assert code == 0, out
    assert f"INV-{datetime.now(UTC).year}-000001" in out
    assert "19.00 USD" in out

    code, out = cli(runtime, ["billing", "run-renewals", "--at", "yesterday"])
    assert code != 0
    assert "ISO 8601" in out
