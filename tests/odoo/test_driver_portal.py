"""The driver operations of the client portal: installing the apps, reading and writing
records as the administrator, and a person's web login and logout.

Against the emulator, or a real Odoo with SAAS_TEST_ODOO_URL (see tests/odoo/conftest.py);
installing the apps takes minutes on a real server.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from saas_server.odoo.driver import Credentials
from saas_server.odoo.errors import OdooFault
from saas_server.odoo.rpc_driver import RpcDriver

if TYPE_CHECKING:
    from tests.fixtures.odoo import OdooTarget as Target

pytestmark = pytest.mark.slow

ADMIN = Credentials("admin", "admin-pass-1")
APPS = ["project", "account", "website_blog"]


@pytest.fixture(scope="module")
async def database(target: Target) -> AsyncIterator[str]:
    name = "dp_" + uuid.uuid4().hex[:8]
    driver = RpcDriver(target.url, target.master_password, postgres_url=target.postgres_url)
    await driver.create(name, admin=ADMIN, lang="en_US")
    yield name
    await driver.drop(name)
    await driver.close()


async def test_installing_the_apps_then_reading_and_writing_their_records(
    driver: RpcDriver, database: str
) -> None:
    assert sorted(await driver.install_modules(database, ADMIN, APPS)) == sorted(APPS)
    # Installed already: nothing to do.
    assert await driver.install_modules(database, ADMIN, APPS) == []
    with pytest.raises(OdooFault):
        await driver.install_modules(database, ADMIN, ["no_such_module_xyz"])

    partner = await driver.create_record(database, ADMIN, "res.partner", {"name": "Client"})
    project = await driver.create_record(
        database, ADMIN, "project.project", {"name": "Site", "partner_id": partner}
    )
    rows = await driver.search_read(
        database,
        ADMIN,
        "project.project",
        [("id", "=", project)],
        ["name", "partner_id", "write_date"],
        order="write_date asc, id asc",
    )
    assert rows[0]["name"] == "Site" and rows[0]["partner_id"][0] == partner
    attachment = await driver.create_record(
        database,
        ADMIN,
        "ir.attachment",
        {
            "name": "a.txt",
            "datas": base64.b64encode(b"hello").decode(),
            "res_model": "project.project",
            "res_id": project,
        },
    )
    assert await driver.unlink_records(database, ADMIN, "ir.attachment", [attachment])
    assert (
        await driver.search_read(
            database, ADMIN, "ir.attachment", [("id", "=", attachment)], ["name"]
        )
        == []
    )


async def test_a_portal_users_web_login_and_logout(driver: RpcDriver, database: str) -> None:
    company = await driver.create_record(
        database, ADMIN, "res.partner", {"name": "Portal Co", "is_company": True}
    )
    contact = await driver.create_record(
        database, ADMIN, "res.partner", {"name": "Pat", "parent_id": company}
    )
    [group] = await driver.search_read(
        database, ADMIN, "res.groups", [("name", "=", "Portal")], ["id"]
    )
    login = f"pat-{uuid.uuid4().hex[:6]}@client.example"
    await driver.create_record(
        database,
        ADMIN,
        "res.users",
        {
            "login": login,
            "name": "Pat",
            "partner_id": contact,
            "password": "portal-pass-1",
            "groups_id": [(6, 0, [group["id"]])],
        },
    )
    assert await driver.web_login(database, login, "wrong") is None
    logged = await driver.web_login(database, login, "portal-pass-1")
    assert logged is not None
    assert logged.partner_id == contact and logged.db == database
    assert logged.is_portal and not logged.is_internal
    assert logged.session_id
    await driver.web_logout(logged.session_id)
    admin = await driver.web_login(database, ADMIN.login, ADMIN.password)
    assert admin is not None and admin.is_internal and not admin.is_portal
    await driver.web_logout(admin.session_id)
