"""Security scans of a tenant's Odoo, on the emulator: a deliberately weak tenant reports
each finding, a hardened one none; who may request and read them."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from saas_server.core.runtime import Runtime
from saas_server.instances.models import Instance
from saas_server.security.scans import LATEST_PATCH_RELEASES, build_date, version_finding
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.cli import cli
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> Tenant:
    await add_host(client, admin, odoo)
    return await ready_tenant(client, runtime, owner, odoo)


async def _scan(
    client: httpx.AsyncClient, runtime: Runtime, who: LoggedIn, tenant: Tenant
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/security/scans", json={"tenant_id": tenant.id}, headers=who.headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await runtime.run_pending_jobs()
    found = await client.get(f"/api/v1/security/scans/{response.json()['id']}", headers=who.headers)
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


async def test_a_weak_tenant_reports_each_finding(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    odoo: EmulatorProcess,
) -> None:
    # The host runs Odoo in developer mode with Werkzeug's debugger (--dev=werkzeug).
    odoo.stop()
    odoo.dev_mode = "werkzeug"
    odoo.start()
    # The administrator renamed to the default login with the default password, the platform
    # told of it (as an owner changing it through the platform would).
    tenant.call("res.users", "write", [tenant.uid()], {"login": "admin", "password": "admin"})
    tenant.login, tenant.password = "admin", "admin"
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Instance)
            .where(Instance.tenant_id == tenant.id)
            .values(admin_login="admin", admin_password_encrypted=runtime.secrets.encrypt("admin"))
        )
    tenant.call("ir.config_parameter", "set_param", "auth_signup.invitation_scope", "b2c")
    tenant.call("ir.config_parameter", "set_param", "web.base.url", "http://weak.example.com")
    odoo.rpc("db", "change_admin_password", odoo.master_password, "admin")

    scan = await _scan(client, runtime, owner, tenant)
    assert scan["status"] == "completed", scan["error"]
    checks = {f["check"]: f for f in scan["findings"]}
    assert set(checks) == {
        "database_listing",
        "database_manager",
        "weak_master_password",
        "default_admin_login",
        "weak_admin_password",
        "open_signup",
        "base_url_not_https",
        "debug_mode",
    }
    assert checks["debug_mode"]["severity"] == "critical"
    assert "__debugger__" in checks["debug_mode"]["evidence"]
    for finding in scan["findings"]:
        assert finding["severity"] in ("low", "medium", "high", "critical")
        assert finding["evidence"] and finding["fix"]
    # The evidence never spells a password out.
    assert "'admin'" not in checks["weak_master_password"]["evidence"]
    assert "http://weak.example.com" in checks["base_url_not_https"]["evidence"]
    # No one was locked out: the administrator still signs in.
    assert tenant.uid() > 0


async def test_a_hardened_tenant_reports_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    tenant: Tenant,
    odoo: EmulatorProcess,
) -> None:
    tenant.call("ir.config_parameter", "set_param", "auth_signup.invitation_scope", "b2b")
    tenant.call("ir.config_parameter", "set_param", "web.base.url", "https://acme.example.com")
    # The host's operator turns database listing and management off (Odoo's list_db).
    odoo.stop()
    odoo.list_db = False
    odoo.start()

    scan = await _scan(client, runtime, owner, tenant)
    assert scan["status"] == "completed", scan["error"]
    assert scan["findings"] == []

    # Platform admins see every scan; the owner sees their tenant's.
    for who in (owner, admin):
        listed = await client.get(
            "/api/v1/security/scans", params={"tenant_id": tenant.id}, headers=who.headers
        )
        assert listed.status_code == 200
        assert [s["id"] for s in listed.json()["results"]] == [scan["id"]]


async def test_only_the_tenants_managers_and_admins_reach_its_scans(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    tenant: Tenant,
    inbox: Inbox,
) -> None:
    response = await client.post(
        "/api/v1/security/scans", json={"tenant_id": tenant.id}, headers=owner.headers
    )
    assert response.status_code == 202
    scan_id = response.json()["id"]
    stranger = await verified_user(client, runtime, inbox, "stranger@example.com")
    assert (
        await client.get(f"/api/v1/security/scans/{scan_id}", headers=stranger.headers)
    ).status_code == 404
    refused = await client.post(
        "/api/v1/security/scans", json={"tenant_id": tenant.id}, headers=stranger.headers
    )
    assert refused.status_code == 404
    listed = await client.get("/api/v1/security/scans", headers=stranger.headers)
    assert listed.json()["count"] == 0
    bad = await client.post(
        "/api/v1/security/scans", json={"tenant_id": "not-a-uuid"}, headers=owner.headers
    )
    assert bad.status_code == 404


def test_the_version_check_compares_build_dates_within_the_series() -> None:
    assert build_date("17.0-20240709") == date(2024, 7, 9)
    assert build_date("18.0+e-20250520") == date(2025, 5, 20)
    assert build_date("18.0") is None
    old = version_finding("17.0-20240101", "17.0")
    assert old is not None and old.check == "outdated_version"
    assert "2024-01-01" in old.evidence
    latest = LATEST_PATCH_RELEASES["17.0"].strftime("%Y%m%d")
    assert version_finding(f"17.0-{latest}", "17.0") is None
    # A build without a date cannot be judged: no finding rather than a guess.
    assert version_finding("18.0", "18.0") is None


async def test_saas_security_scan_scans_a_tenant_now(runtime: Runtime, tenant: Tenant) -> None:
    code, out = await asyncio.to_thread(
        cli, runtime, ["security", "scan", tenant.database, "--json"]
    )
    assert code == 0, out
    # Log lines (stderr, mixed in by the runner) come before the JSON object.
    result = json.loads(out[out.index("{\n") :])
    assert result["status"] == "completed", result["error"]
    # The emulator lists databases, as Odoo does by default.
    assert "database_listing" in {f["check"] for f in result["findings"]}
    code, out = await asyncio.to_thread(cli, runtime, ["security", "scan", "no-such-tenant"])
    assert code == 1
    assert "No tenant" in out
