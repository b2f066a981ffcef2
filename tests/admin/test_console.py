"""The admin console API: figures, lists with filters, search and ordering, admins only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saas_server.core import clock as clock_module
from saas_server.core.runtime import Runtime
from saas_server.monitoring.models import Granularity, MetricPoint
from tests.fixtures.auth import LoggedIn, login, platform_admin, verified_user
from tests.fixtures.billing import make_plan, subscribe
from tests.fixtures.errors import assert_envelope
from tests.fixtures.provisioning import subdomain
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant

ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/stats"),
    ("GET", "/api/v1/admin/users"),
    ("GET", "/api/v1/admin/tenants"),
    ("GET", "/api/v1/admin/instances"),
    ("GET", "/api/v1/admin/maintenance"),
    ("POST", "/api/v1/admin/maintenance"),
    ("GET", "/api/v1/admin/metrics/platform"),
]


async def test_every_admin_route_refuses_a_user_with_403_and_anonymous_with_401(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    for method, path in ADMIN_ROUTES:
        body = {"enabled": False} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=owner.headers)
        assert_envelope(response, 403, "FORBIDDEN")
        response = await client.request(method, path, json=body)
        assert_envelope(response, 401, "UNAUTHORIZED")


async def test_stats_count_users_tenants_and_recent_signups(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn
) -> None:
    before = (await client.get("/api/v1/admin/stats", headers=admin.headers)).json()
    await create_tenant(client, owner, subdomain())
    await create_tenant(client, owner, subdomain())
    response = await client.get("/api/v1/admin/stats", headers=admin.headers)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["total_users"] == 2  # the owner and the admin
    assert stats["total_tenants"] == before["total_tenants"] + 2
    assert stats["tenants_created"] == {"24h": 2, "7d": 2, "30d": 2}
    assert stats["signups"]["24h"] == 2
    # No host: the instances wait in pending, none is active and none failed.
    assert stats["active_instances"] == 0
    assert stats["failed_provisionings"] == 0
    assert stats["backups_failed_24h"] == 0
    assert (stats["total_revenue"], stats["mrr"], stats["currency"]) == (0, 0, "USD")
    assert stats["total_revenue_by_currency"] == {} and stats["mrr_by_currency"] == {}


@pytest.mark.parametrize("settings_overrides", [{"billing_reporting_currency": "EUR"}])
async def test_stats_show_revenue_and_mrr_from_billing(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn, settings_overrides: dict[str, Any]
) -> None:
    plan = await make_plan(client, admin)  # 3100 EUR a month, two seats included, no trial
    tenant = await create_tenant(client, owner, subdomain())
    await subscribe(client, owner, tenant["id"], plan=plan["code"], max_users=2)
    stats = (await client.get("/api/v1/admin/stats", headers=admin.headers)).json()
    assert stats["total_revenue_by_currency"] == {}  # the bank transfer is not in yet
    assert stats["mrr_by_currency"] == {"EUR": 3100}
    assert (stats["mrr"], stats["total_revenue"], stats["currency"]) == (3100, 0, "EUR")
    [invoice] = (await client.get("/api/v1/admin/invoices", headers=admin.headers)).json()[
        "results"
    ]
    paid = await client.post(
        f"/api/v1/admin/invoices/{invoice['id']}/actions",
        json={"action": "mark_paid"},
        headers=admin.headers,
    )
    assert paid.status_code == 200, paid.text
    stats = (await client.get("/api/v1/admin/stats", headers=admin.headers)).json()
    assert stats["total_revenue_by_currency"] == {"EUR": 3100}
    assert stats["total_revenue"] == 3100


async def test_signups_leave_the_24h_window_on_the_moved_clock(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    clock: clock_module.FrozenClock,
) -> None:
    await platform_admin(client, runtime)
    await verified_user(client, runtime, inbox, "early@example.com")
    clock.advance(timedelta(days=2))
    admin = await login(client, "root@example.com")  # the first access token has expired
    stats = (await client.get("/api/v1/admin/stats", headers=admin.headers)).json()
    assert stats["signups"] == {"24h": 0, "7d": 2, "30d": 2}


async def test_tenant_overview_filters_searches_orders_and_shows_latest_metrics(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    other = await verified_user(client, runtime, inbox, "zed@example.com")
    alpha = await create_tenant(client, owner, "alpha" + uuid.uuid4().hex[:6])
    beta = await create_tenant(client, other, "beta" + uuid.uuid4().hex[:6], tier="professional")
    subscription = await subscribe(client, other, beta["id"], plan="professional")
    async with runtime.db.transaction() as session:
        now = clock_module.now()
        for at, size in ((now - timedelta(minutes=10), 1000.0), (now, 2500.0)):
            session.add(
                MetricPoint(
                    tenant_id=uuid.UUID(alpha["id"]),
                    metric="database_size_bytes",
                    granularity=Granularity.RAW.value,
                    bucket_at=at,
                    value=size,
                    min_value=size,
                    max_value=size,
                    samples=1,
                )
            )

    response = await client.get("/api/v1/admin/tenants", headers=admin.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == 2
    by_id = {t["id"]: t for t in page["results"]}
    assert by_id[alpha["id"]]["owner"]["email"] == "owner@example.com"
    assert by_id[alpha["id"]]["database_size_bytes"] == 2500
    assert by_id[beta["id"]]["database_size_bytes"] is None
    assert by_id[alpha["id"]]["instance_status"] == "pending"
    assert by_id[alpha["id"]]["subscription_status"] is None
    assert by_id[beta["id"]]["subscription_status"] == subscription["status"]
    assert by_id[alpha["id"]]["last_backup_at"] is None

    tier = await client.get("/api/v1/admin/tenants?tier=professional", headers=admin.headers)
    assert [t["id"] for t in tier.json()["results"]] == [beta["id"]]
    search = await client.get("/api/v1/admin/tenants?search=ZED@", headers=admin.headers)
    assert [t["id"] for t in search.json()["results"]] == [beta["id"]]
    owner_filter = await client.get(
        f"/api/v1/admin/tenants?owner_id={owner.user['id']}", headers=admin.headers
    )
    assert [t["id"] for t in owner_filter.json()["results"]] == [alpha["id"]]
    ordered = await client.get("/api/v1/admin/tenants?ordering=-subdomain", headers=admin.headers)
    assert [t["id"] for t in ordered.json()["results"]] == [beta["id"], alpha["id"]]
    paged = await client.get("/api/v1/admin/tenants?page_size=1", headers=admin.headers)
    assert paged.json()["next"] is not None and len(paged.json()["results"]) == 1

    bad = await client.get("/api/v1/admin/tenants?ordering=password", headers=admin.headers)
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    bad = await client.get("/api/v1/admin/tenants?status=bogus", headers=admin.headers)
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    now_s = clock_module.isoformat(clock_module.now())
    earlier = clock_module.isoformat(clock_module.now() - timedelta(days=1))
    bad = await client.get(
        "/api/v1/admin/tenants",
        params={"date_from": now_s, "date_to": earlier},
        headers=admin.headers,
    )
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    future = clock_module.isoformat(clock_module.now() + timedelta(days=1))
    empty = await client.get(
        "/api/v1/admin/tenants", params={"date_from": future}, headers=admin.headers
    )
    assert empty.json()["count"] == 0


async def test_users_and_instances_lists(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, subdomain())
    users = await client.get("/api/v1/admin/users?ordering=email", headers=admin.headers)
    assert users.status_code == 200, users.text
    rows = users.json()["results"]
    assert [u["email"] for u in rows] == ["owner@example.com", "root@example.com"]
    assert rows[0]["tenant_count"] == 1 and rows[1]["tenant_count"] == 0
    assert "password_hash" not in rows[0]
    admins = await client.get("/api/v1/admin/users?role=admin", headers=admin.headers)
    assert [u["email"] for u in admins.json()["results"]] == ["root@example.com"]
    most = await client.get("/api/v1/admin/users?ordering=-tenant_count", headers=admin.headers)
    assert most.json()["results"][0]["email"] == "owner@example.com"
    bad = await client.get("/api/v1/admin/users?ordering=password_hash", headers=admin.headers)
    assert_envelope(bad, 422, "VALIDATION_ERROR")

    instances = await client.get("/api/v1/admin/instances", headers=admin.headers)
    assert instances.status_code == 200, instances.text
    [instance] = instances.json()["results"]
    assert instance["tenant_id"] == tenant["id"]
    assert instance["status"] == "pending"
    assert instance["host"] is None
    none = await client.get("/api/v1/admin/instances?status=ready", headers=admin.headers)
    assert none.json()["count"] == 0
    found = await client.get(
        "/api/v1/admin/instances", params={"search": tenant["subdomain"]}, headers=admin.headers
    )
    assert found.json()["count"] == 1
    bad = await client.get("/api/v1/admin/instances?ordering=nope", headers=admin.headers)
    assert_envelope(bad, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("path", ["/api/v1/admin/tenants", "/api/v1/admin/instances"])
async def test_lists_refuse_malformed_ids_in_filters(
    client: httpx.AsyncClient, admin: LoggedIn, path: str
) -> None:
    response = await client.get(path, params={"host_id": "not-a-uuid"}, headers=admin.headers)
    assert_envelope(response, 422, "VALIDATION_ERROR")
