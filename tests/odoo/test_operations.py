"""The driver operations billing, monitoring, integrations and security use, on the emulator
or a real Odoo (SAAS_TEST_ODOO_URL, see tests/odoo/conftest.py): seats (internal users),
metrics sampling, the webhook parameters, and the security scan's checks.

Odoo's side is read with plain ``execute_kw`` calls, not with the operations under test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from saas_server.odoo.driver import DATABASE_STAT_COLUMNS, Credentials, OdooUser
from saas_server.odoo.rpc_driver import RpcDriver
from saas_server.security.scans import ScanTarget, check_instance

if TYPE_CHECKING:
    from tests.fixtures.odoo import OdooTarget as Target

pytestmark = pytest.mark.slow

ADMIN = Credentials("admin", "admin-pass-1")


@pytest.fixture(scope="module")
async def database(target: Target) -> AsyncIterator[str]:
    """One database for the module (a real server takes 10-60 s to create one); each test
    changes a clone of it (about 0.5 s)."""
    name = "op_" + uuid.uuid4().hex[:8]
    driver = RpcDriver(target.url, target.master_password, postgres_url=target.postgres_url)
    await driver.create(name, admin=ADMIN, lang="en_US")
    yield name
    await driver.drop(name)
    await driver.close()


@pytest.fixture
async def clone(driver: RpcDriver, database: str) -> AsyncIterator[str]:
    name = database + "_" + uuid.uuid4().hex[:6]
    await driver.clone(database, name)
    yield name
    if await driver.database_exists(name):
        await driver.drop(name)


async def read_users(driver: RpcDriver, name: str, login: str) -> list[dict[str, Any]]:
    uid = await driver.authenticate(name, ADMIN)
    assert uid
    rows: list[dict[str, Any]] = await driver.client.execute_kw(
        name,
        uid,
        ADMIN.password,
        "res.users",
        "search_read",
        [[["login", "=", login]]],
        {"fields": ["active", "share", "email", "name"], "context": {"active_test": False}},
    )
    return rows


async def test_seats_create_deactivate_and_reactivate_an_internal_user(
    driver: RpcDriver, clone: str
) -> None:
    assert await driver.active_internal_logins(clone, ADMIN) == ["admin"]
    seat = OdooUser(login="ana@example.com", name="Ana Lima", email="ana@example.com")
    assert await driver.ensure_internal_user(clone, ADMIN, seat, "seat-pass-1") is True
    [user] = await read_users(driver, clone, seat.login)
    assert user["active"] and not user["share"]  # internal: it takes a seat
    assert user["name"] == "Ana Lima" and user["email"] == "ana@example.com"
    assert await driver.authenticate(clone, Credentials(seat.login, "seat-pass-1"))
    assert await driver.active_internal_logins(clone, ADMIN) == ["admin", seat.login]
    # Again: nothing new.
    assert await driver.ensure_internal_user(clone, ADMIN, seat, "other-pass") is False

    assert await driver.deactivate_user(clone, ADMIN, seat.login) is True
    assert await driver.deactivate_user(clone, ADMIN, seat.login) is False
    assert await driver.deactivate_user(clone, ADMIN, "nobody@example.com") is False
    [user] = await read_users(driver, clone, seat.login)
    assert not user["active"]
    assert await driver.active_internal_logins(clone, ADMIN) == ["admin"]
    assert await driver.authenticate(clone, Credentials(seat.login, "seat-pass-1")) is None

    # Back: the same user, active again, with its password unchanged.
    assert await driver.ensure_internal_user(clone, ADMIN, seat, "ignored-pass") is False
    assert await driver.active_internal_logins(clone, ADMIN) == ["admin", seat.login]
    assert await driver.authenticate(clone, Credentials(seat.login, "seat-pass-1"))


async def test_sampling_reads_size_stats_activity_and_logins(
    target: Target, driver: RpcDriver, clone: str
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    size = await driver.size(clone)
    assert size is not None and size > 1_000_000  # a real Odoo database is megabytes
    filestore = await driver.filestore_size(clone)
    assert filestore is not None and filestore >= 0
    stats = await driver.database_stats(clone)
    assert stats is not None and set(stats) == set(DATABASE_STAT_COLUMNS)
    assert stats["xact_commit"] > 0

    # A web login is what Odoo records in res.users.log (and login_date).
    session = await driver.client.web_session(clone, ADMIN.login, ADMIN.password)
    assert session.uid
    records = await driver.login_records(clone, ADMIN, since=before, until=None, limit=10)
    assert records and records[0].user == "admin" and records[0].at >= before
    activity = await driver.user_activity(clone, ADMIN, before)
    assert activity.internal_users == 1 and activity.active_users == 1
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert (await driver.user_activity(clone, ADMIN, later)).active_users == 0

    # Without SQL access the same answers come over RPC (logging in as the admin).
    rpc_only = RpcDriver(target.url, target.master_password)
    try:
        assert await rpc_only.size(clone) is None
        over_rpc = await rpc_only.login_records(clone, ADMIN, since=before, until=None, limit=10)
        assert over_rpc and over_rpc[-1].user == "admin"
        assert (await rpc_only.user_activity(clone, ADMIN, before)).internal_users == 1
    finally:
        await rpc_only.close()


async def test_the_webhook_parameters_are_written_and_read_back(
    driver: RpcDriver, clone: str
) -> None:
    uid = await driver.authenticate(clone, ADMIN)
    assert uid
    values = {
        "saas.webhook_secret": "s" * 43,
        "saas.webhook_url": "https://platform.example.com/api/v1/odoo/webhook",
        "saas.webhook_action_url": "https://platform.example.com/api/v1/odoo/webhook?db=x&token=t",
    }
    await driver.set_config_parameters(clone, uid, ADMIN.password, values)
    # Again (the install job is idempotent).
    await driver.set_config_parameters(clone, uid, ADMIN.password, values)
    for key, value in values.items():
        read = await driver.client.execute_kw(
            clone, uid, ADMIN.password, "ir.config_parameter", "get_param", [key]
        )
        assert read == value
    rows = await driver.client.execute_kw(
        clone,
        uid,
        ADMIN.password,
        "ir.config_parameter",
        "search_count",
        [[["key", "like", "saas.webhook"]]],
    )
    assert rows == 3


async def test_the_security_scan_checks_what_the_server_shows(
    target: Target, driver: RpcDriver, clone: str
) -> None:
    findings = await check_instance(
        ScanTarget(
            host_url=target.url,
            database=clone,
            admin_login=ADMIN.login,
            admin_password=ADMIN.password,
        )
    )
    checks = {finding.check: finding for finding in findings}
    # The test servers list their databases and serve the manager; their master password
    # and the admin's are not well-known ones; web.base.url is http://localhost:<port>.
    assert set(checks) == {
        "database_listing",
        "database_manager",
        "default_admin_login",
        "base_url_not_https",
    }, checks
    # No more failed logins than Odoo's cooldown allows: the admin still logs in.
    assert await driver.authenticate(clone, ADMIN)
