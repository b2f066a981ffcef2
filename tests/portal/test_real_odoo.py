"""Seed 004's must-show on a real Odoo server registered as a host: the same steps as
test_client_portal.py (which runs them on the emulator), on one tenant, in an order where
each step's data is what the previous ones left.

Runs only with SAAS_TEST_ODOO_URL, SAAS_TEST_ODOO_MASTER_PASSWORD and
SAAS_TEST_ODOO_POSTGRES_URL (see docs/user-guide.md, "Testing against a real Odoo").
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance
from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures import portal_steps as steps
from tests.fixtures.auth import LoggedIn
from tests.fixtures.odoo import RpcError, made_for_host
from tests.fixtures.portal import PortalTenant, make_portal

URL = os.environ.get("SAAS_TEST_ODOO_URL")
MASTER = os.environ.get("SAAS_TEST_ODOO_MASTER_PASSWORD", "")
POSTGRES = os.environ.get("SAAS_TEST_ODOO_POSTGRES_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (URL and POSTGRES), reason="needs a real Odoo (SAAS_TEST_ODOO_URL)"),
]


class RealOdoo:
    """A real server in the emulator fixture's place: what the portal fixtures use of it
    (its address, master password, version, PostgreSQL, and raw JSON-RPC for checks)."""

    def __init__(self, url: str, master_password: str, version: str, postgres_url: str) -> None:
        self.url = url
        self.master_password = master_password
        self.version = version
        self.postgres_url = postgres_url

    def rpc(self, service: str, method: str, *args: Any) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": list(args)},
        }
        answer = httpx.post(self.url + "/jsonrpc", json=body, timeout=300).json()
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer.get("result")


@pytest.fixture
async def portal(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, admin: LoggedIn
) -> AsyncIterator[PortalTenant]:
    assert URL and POSTGRES
    driver = RpcDriver(URL, MASTER, postgres_url=POSTGRES)
    version = (await driver.server_version()).major
    try:
        yield await make_portal(
            client, runtime, owner, admin, RealOdoo(URL, MASTER, version, POSTGRES)
        )
    finally:
        # What this run made on the server (others may share it): the tenant's database,
        # the host's template and standby databases.
        async with runtime.db.sessionmaker() as session:
            hosts = (await session.execute(select(OdooHost.id))).scalars().all()
            tenants = (await session.execute(select(Instance.database_name))).scalars().all()
        databases = await driver.client.list_databases()
        made = {name for host in hosts for name in made_for_host(databases, host)}
        for name in made | (set(tenants) & set(databases)):
            await driver.drop(name)
        await driver.close()


async def test_the_portal_must_show_on_a_real_odoo(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    await steps.check_a_portal_user_sees_exactly_their_companys_data(client, runtime, portal)
    await steps.check_wrong_password_and_unknown_tenant_are_refused(client, portal)
    await steps.check_refresh_rotates_the_portal_tokens(client, runtime, portal)
    await steps.check_uploaded_files_are_attachments_in_odoo(client, portal)
    await steps.check_the_published_blog_is_public_and_cacheable(client, portal)
    await steps.check_a_stage_change_in_odoo_notifies_the_client_by_webhook_and_by_schedule(
        client, runtime, portal
    )
    await steps.check_settings_are_validated_and_kept(client, portal)
