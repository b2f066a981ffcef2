"""Seed 004's must-show, on the emulator: a portal user created in the tenant's Odoo logs in
through the platform, sees exactly their company's projects, tasks and invoices (another
client's are 404), uploads a file that then exists as an attachment in Odoo, is notified when
a task's stage changes in Odoo (by the webhook and by the scheduled sync), and anyone reads
the published blog without logging in; conditional GETs answer 304."""

from __future__ import annotations

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures import portal_steps as steps
from tests.fixtures.portal import PortalTenant

pytestmark = pytest.mark.slow


async def test_a_portal_user_sees_exactly_their_companys_data(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    await steps.check_a_portal_user_sees_exactly_their_companys_data(client, runtime, portal)


async def test_wrong_password_and_unknown_tenant_are_refused(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    await steps.check_wrong_password_and_unknown_tenant_are_refused(client, portal)


async def test_refresh_rotates_the_portal_tokens(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    await steps.check_refresh_rotates_the_portal_tokens(client, runtime, portal)


async def test_uploaded_files_are_attachments_in_odoo(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    await steps.check_uploaded_files_are_attachments_in_odoo(client, portal)


async def test_a_stage_change_in_odoo_notifies_the_client_by_webhook_and_by_schedule(
    client: httpx.AsyncClient, runtime: Runtime, portal: PortalTenant
) -> None:
    await steps.check_a_stage_change_in_odoo_notifies_the_client_by_webhook_and_by_schedule(
        client, runtime, portal
    )


async def test_the_published_blog_is_public_and_cacheable(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    await steps.check_the_published_blog_is_public_and_cacheable(client, portal)


async def test_settings_are_validated_and_kept(
    client: httpx.AsyncClient, portal: PortalTenant
) -> None:
    await steps.check_settings_are_validated_and_kept(client, portal)
