"""The pages added for issue 19's rest, in-process: plans created and edited with money typed
as 31.50, an Odoo host added, a threat in detail, the audit chain check, integrations, a
tenant's metrics, and an upgrade's prorated price shown before it is confirmed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.security.threats import detect_threats
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.billing import make_plan, subscribe, tenant_of
from tests.fixtures.dashboard import dashboard_login
from tests.fixtures.odoo import EmulatorProcess


async def test_an_admin_creates_and_edits_a_plan_with_exact_money(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    token = await dashboard_login(client, admin.email)
    page = await client.get("/app/admin/plans")
    assert page.status_code == 200 and "New plan" in page.text
    form = {
        "csrf_token": token,
        "code": "crew",
        "name": "Crew",
        "currency": "EUR",
        "monthly_amount_cents": "31.50",
        "annual_amount_cents": "315",
        "seats_included": "2",
        "extra_seat_amount_cents": "9.99",
        "max_users": "10",
        "storage_gb": "5",
        "expiration_days": "365",
        "backup_daily": "7",
        "backup_weekly": "4",
        "backup_monthly": "3",
        "backup_manual_quota": "5",
        "backup_manual_retention_days": "30",
        "is_active": "on",
    }
    # A third decimal is refused next to its field, and nothing is created.
    refused = await client.post("/app/admin/plans", data={**form, "monthly_amount_cents": "31.505"})
    assert refused.status_code == 422
    assert re.search(r'id="e-monthly_amount_cents"[^>]*>[^<]*two decimals', refused.text)
    created = await client.post("/app/admin/plans", data=form)
    assert created.status_code == 303, created.text
    plan_url = created.headers["location"]
    plan = (
        await client.get(f"/api/v1/admin/plans/{plan_url.rsplit('/', 1)[1]}", headers=admin.headers)
    ).json()
    prices = {p["interval"]: p["amount_cents"] for p in plan["prices"]}
    assert (prices["monthly"], prices["annually"]) == (3150, 31500)
    assert plan["extra_seat_amount_cents"] == 999 and plan["backup_policy"]["daily"] == 7

    edit = await client.get(plan_url)
    assert 'value="31.50"' in edit.text and 'value="9.99"' in edit.text
    saved = await client.post(
        plan_url,
        data={
            "csrf_token": token,
            "name": "Crew Plus",
            "currency": "EUR",
            "monthly_amount_cents": "40.10",
            "annual_amount_cents": "401.00",
            "max_users": "12",
            "storage_gb": "5",
            "expiration_days": "365",
            "is_active": "on",
        },
    )
    assert saved.status_code == 303, saved.text
    plan = (await client.get(f"/api/v1/admin/plans/{plan['id']}", headers=admin.headers)).json()
    assert plan["name"] == "Crew Plus" and plan["max_users"] == 12
    assert {p["interval"]: p["amount_cents"] for p in plan["prices"]}["monthly"] == 4010
    # An API refusal (fewer users than included) shows next to the field.
    bad = await client.post(
        plan_url, data={"csrf_token": token, "max_users": "0", "is_active": "on"}
    )
    assert bad.status_code == 422
    assert 'id="e-max_users"' in bad.text


@pytest.mark.slow
async def test_an_admin_adds_a_host_and_a_bad_url_is_refused_at_its_field(
    client: httpx.AsyncClient, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    token = await dashboard_login(client, admin.email)
    form = {
        "csrf_token": token,
        "name": "odoo-9",
        "url": "ftp://odoo-9",
        "odoo_version": odoo.version,
        "capacity": "40",
        "master_password": odoo.master_password,
    }
    refused = await client.post("/app/admin/hosts/new", data=form)
    assert refused.status_code == 422
    assert 'id="e-url"' in refused.text
    assert odoo.master_password not in refused.text  # a secret is never sent back
    unreachable = await client.post(
        "/app/admin/hosts/new", data={**form, "url": "http://127.0.0.1:9"}
    )
    assert unreachable.status_code == 422
    assert re.search(r'id="e-url"[^>]*>No Odoo answers', unreachable.text)
    added = await client.post("/app/admin/hosts/new", data={**form, "url": odoo.url})
    assert added.status_code == 303, added.text
    hosts = (await client.get("/api/v1/admin/odoo-hosts", headers=admin.headers)).json()
    assert [(h["name"], h["capacity"]) for h in hosts["results"]] == [("odoo-9", 40)]
    assert "odoo-9" in (await client.get("/app/admin/hosts")).text


async def test_threat_detail_audit_check_and_integrations_pages(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: LoggedIn,
    owner: LoggedIn,
    clock: FrozenClock,
) -> None:
    # A refresh token presented again after its rotation (and its grace window) is a threat.
    await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    clock.advance(seconds=runtime.settings.refresh_reuse_grace_seconds + 1)
    await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    async with runtime.db.transaction() as session:
        await detect_threats(session, runtime.settings)
    token = await dashboard_login(client, admin.email)
    security = await client.get("/app/admin/security")
    link = re.search(r'href="(/app/admin/security/threats/[0-9a-f-]{36})"', security.text)
    assert link, security.text
    detail = await client.get(link.group(1))
    assert detail.status_code == 200
    assert owner.email in detail.text and "token reuse" in detail.text.lower()
    assert (await client.get("/app/admin/security/threats/not-an-id")).status_code == 404

    checked = await client.post("/app/admin/audit/verify", data={"csrf_token": token})
    assert checked.status_code == 200
    assert "The chain is intact" in checked.text

    integrations = await client.get("/app/admin/integrations", params={"status": "failed"})
    assert integrations.status_code == 200
    assert "Inbound providers" in integrations.text and "0 events" in integrations.text


@pytest.fixture
def march(clock: FrozenClock) -> FrozenClock:
    """The clock on 2027-03-01 before anyone logs in (tokens follow the clock)."""
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    return clock


async def test_an_upgrade_shows_its_prorated_price_before_it_is_confirmed(
    march: FrozenClock, client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    team = await make_plan(client, admin)
    team_plus = await make_plan(client, admin, name="Team Plus", monthly_amount_cents=6200)
    tenant = await tenant_of(client, owner)
    subscription = await subscribe(client, owner, tenant["id"], plan=team["code"], max_users=3)
    march.set(datetime(2027, 3, 11, tzinfo=UTC))
    owner = await login(client, owner.email)
    token = await dashboard_login(client, owner.email)
    change = {
        "csrf_token": token,
        "subscription_id": subscription["id"],
        "plan": team_plus["code"],
        "max_users": "4",
    }
    preview = await client.post("/app/billing", data={**change, "intent": "preview_plan"})
    assert preview.status_code == 200, preview.text
    # Credit 27.77, charge 55.55 (tests/billing/test_preview.py): 27.78 now, no tax.
    assert re.search(r'data-testid="preview-total">27\.78 EUR<', preview.text), preview.text
    assert "-27.77 EUR" in preview.text and "55.55 EUR" in preview.text
    assert "Confirm the change" in preview.text
    listed = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers)
    assert listed.json()["plan"] == team["code"]  # nothing changed yet
    confirmed = await client.post("/app/billing", data={**change, "intent": "change_plan"})
    assert confirmed.status_code == 303, confirmed.text
    listed = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers)
    assert (listed.json()["plan"], listed.json()["max_users"]) == (team_plus["code"], 4)


async def test_a_tenants_metrics_page_draws_each_metric(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    tenant = await tenant_of(client, owner)
    await dashboard_login(client, owner.email)
    for granularity in ("minute", "hour", "day", "fortnight"):
        page = await client.get(
            f"/app/tenants/{tenant['id']}/metrics", params={"granularity": granularity}
        )
        assert page.status_code == 200, page.text
        assert "Usage of" in page.text and "no samples yet" in page.text
    tenant_page = await client.get(f"/app/tenants/{tenant['id']}")
    assert f'href="/app/tenants/{tenant["id"]}/metrics"' in tenant_page.text
