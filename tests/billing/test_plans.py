"""Plans: the public list, admin management, and tiers read from plans (decision 0008)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.audit.models import AuditEntry
from saas_server.backups.policy import policy_for
from saas_server.core.runtime import Runtime
from saas_server.tenants.tiers import TIERS, grant_for
from tests.fixtures.auth import LoggedIn
from tests.fixtures.billing import subscribe, tenant_of
from tests.fixtures.errors import assert_envelope

PLANS = "/api/v1/billing/plans"
ADMIN_PLANS = "/api/v1/admin/plans"


def new_plan(**extra: Any) -> dict[str, Any]:
    return {
        "code": f"p{uuid.uuid4().hex[:8]}",
        "name": "Team",
        "max_users": 20,
        "storage_gb": 20,
        "expiration_days": 365,
        "backup_policy": {
            "daily": 10,
            "weekly": 5,
            "monthly": 4,
            "manual_quota": 9,
            "manual_retention_days": 120,
        },
        "rate_limit_class": "premium",
        "currency": "eur",
        "monthly_amount_cents": 2999,
        "annual_amount_cents": 29990,
        "seats_included": 3,
        "extra_seat_amount_cents": 700,
        "trial_days": 7,
        **extra,
    }


async def test_public_list_has_the_seeded_tiers_cheapest_first(client: httpx.AsyncClient) -> None:
    response = await client.get(PLANS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [plan["code"] for plan in body["results"]] == ["starter", "professional", "enterprise"]
    starter = body["results"][0]
    # The grants are today's TIERS, moved into the database.
    assert starter["max_users"] == TIERS["starter"].max_users
    assert starter["expiration_days"] == TIERS["starter"].expiration_days
    assert starter["backup_policy"]["daily"] == TIERS["starter"].backups.daily
    assert starter["tier"] == "starter"
    assert starter["prices"] == [
        {"interval": "monthly", "amount_cents": 1900, "currency": "USD"},
        {"interval": "annually", "amount_cents": 19000, "currency": "USD"},
    ]


async def test_admin_manages_plans_and_the_public_list_follows(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, owner: LoggedIn
) -> None:
    # Only platform admins.
    assert_envelope(await client.get(ADMIN_PLANS, headers=owner.headers), 403, "FORBIDDEN")
    assert_envelope(await client.post(ADMIN_PLANS, json=new_plan()), 401, "UNAUTHORIZED")

    created = await client.post(ADMIN_PLANS, json=new_plan(), headers=admin.headers)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["currency"] == "EUR"
    assert plan["prices"][0] == {"interval": "monthly", "amount_cents": 2999, "currency": "EUR"}
    public = (await client.get(PLANS)).json()["results"]
    assert plan["code"] in [p["code"] for p in public]

    again = await client.post(ADMIN_PLANS, json=new_plan(code=plan["code"]), headers=admin.headers)
    assert_envelope(again, 409, "CONFLICT")

    changed = await client.patch(
        f"{ADMIN_PLANS}/{plan['id']}",
        json={"monthly_amount_cents": 3499, "is_active": False},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["prices"][0]["amount_cents"] == 3499
    # Archived: gone from the pricing page, still in the admin list.
    assert plan["code"] not in [p["code"] for p in (await client.get(PLANS)).json()["results"]]
    archived = await client.get(ADMIN_PLANS, params={"is_active": "false"}, headers=admin.headers)
    assert [p["code"] for p in archived.json()["results"]] == [plan["code"]]

    code_change = await client.patch(
        f"{ADMIN_PLANS}/{plan['id']}", json={"code": "other"}, headers=admin.headers
    )
    assert_envelope(code_change, 422, "VALIDATION_ERROR")

    async with runtime.db.sessionmaker() as session:
        actions = (
            await session.execute(
                select(AuditEntry.action).where(AuditEntry.resource_id == plan["id"])
            )
        ).scalars()
        assert sorted(actions) == ["plan.created", "plan.updated"]

    deleted = await client.delete(f"{ADMIN_PLANS}/{plan['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    missing = await client.get(f"{ADMIN_PLANS}/{plan['id']}", headers=admin.headers)
    assert_envelope(missing, 404, "PLAN_NOT_FOUND")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monthly_amount_cents", 19.99),
        ("monthly_amount_cents", "1999"),
        ("monthly_amount_cents", -1),
        ("currency", "XXX"),
        ("code", "Bad Code"),
        ("rate_limit_class", "gold"),
    ],
)
async def test_bad_plans_are_refused_by_field(
    client: httpx.AsyncClient, admin: LoggedIn, field: str, value: Any
) -> None:
    response = await client.post(
        ADMIN_PLANS, json=new_plan(**{field: value}), headers=admin.headers
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert any(field in key for key in error["details"]), error


async def test_a_plan_with_subscriptions_is_archived_not_deleted(
    client: httpx.AsyncClient, admin: LoggedIn, owner: LoggedIn
) -> None:
    plan = (await client.post(ADMIN_PLANS, json=new_plan(), headers=admin.headers)).json()
    tenant = await tenant_of(client, owner)
    await subscribe(client, owner, tenant["id"], plan=plan["code"])
    refused = await client.delete(f"{ADMIN_PLANS}/{plan['id']}", headers=admin.headers)
    assert_envelope(refused, 409, "CONFLICT")


async def test_what_a_tier_grants_is_read_from_its_plan(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, owner: LoggedIn
) -> None:
    """The packages below billing (tenants, backups, instances) see an admin's change."""
    plans = (await client.get(PLANS)).json()["results"]
    professional = next(p for p in plans if p["code"] == "professional")
    policy = {**professional["backup_policy"], "manual_quota": 33}
    response = await client.patch(
        f"{ADMIN_PLANS}/{professional['id']}",
        json={"max_users": 77, "expiration_reason": "contract", "backup_policy": policy},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    tenant = await tenant_of(client, owner)
    await subscribe(client, owner, tenant["id"], plan="professional")
    detail = (await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)).json()
    assert detail["tier"] == "professional"
    assert detail["limits"]["max_users"] == 77
    assert detail["limits"]["backups"]["manual_quota"] == 33
    async with runtime.db.sessionmaker() as session:
        assert (await grant_for(session, "professional")).expiration_reason == "contract"
        assert (await policy_for(session, runtime.settings, "professional")).manual_quota == 33
        # A tier no plan grants falls back to the starter's defaults.
        assert (await grant_for(session, "nonexistent")).max_users == TIERS["starter"].max_users
