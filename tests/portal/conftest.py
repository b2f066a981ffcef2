from __future__ import annotations

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.portal import PortalTenant, make_portal


@pytest.fixture
async def portal(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> PortalTenant:
    return await make_portal(client, runtime, owner, admin, odoo)
