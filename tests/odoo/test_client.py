"""The platform's Odoo client and RPC driver, against the emulator or a real Odoo.

Set SAAS_TEST_ODOO_URL and SAAS_TEST_ODOO_MASTER_PASSWORD (and SAAS_TEST_ODOO_POSTGRES_URL for
stop/start/size) to run these against a real server; by default they run on the emulator.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from saas_server.odoo.client import OdooClient
from saas_server.odoo.driver import Credentials, DatabaseSetup
from saas_server.odoo.errors import OdooConnectionError, OdooFault
from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures.smtp import free_port

if TYPE_CHECKING:
    from tests.fixtures.odoo import OdooTarget as Target

pytestmark = pytest.mark.slow

ADMIN = Credentials("admin", "admin-pass-1")


@pytest.fixture(scope="module")
async def database(target: Target) -> AsyncIterator[str]:
    """One database for the module (a real server takes 10-20 s to create one)."""
    name = "cl_" + uuid.uuid4().hex[:8]
    driver = RpcDriver(target.url, target.master_password, postgres_url=target.postgres_url)
    await driver.create(name, admin=ADMIN, lang="en_US")
    yield name
    await driver.drop(name)
    await driver.close()


async def test_version_and_health(driver: RpcDriver) -> None:
    health = await driver.health()
    assert health.reachable and health.version is not None
    assert health.version.major in ("17.0", "18.0", "19.0")
    assert health.version.server_version.startswith(health.version.major)


async def test_faults_become_odoo_unavailable_with_the_odoo_error(driver: RpcDriver) -> None:
    with pytest.raises(OdooFault) as caught:
        await driver.client.drop_database("wrong-master-password", "whatever")
    fault = caught.value
    assert fault.status_code == 502 and fault.code == "ODOO_UNAVAILABLE"
    assert fault.is_access_denied
    assert fault.details["odoo_error"]["name"] == "odoo.exceptions.AccessDenied"


async def test_unreachable_server_is_a_connection_error_after_retries() -> None:
    client = OdooClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with pytest.raises(OdooConnectionError) as caught:
        await client.version()
    assert caught.value.code == "ODOO_UNAVAILABLE"
    assert not await client.health()
    await client.close()


async def test_authenticate(driver: RpcDriver, database: str) -> None:
    assert await driver.authenticate(database, ADMIN) == 2
    assert await driver.authenticate(database, Credentials("admin", "wrong")) is None


async def test_clone_configure_and_prove(driver: RpcDriver, database: str) -> None:
    clone = database + "_c"
    await driver.clone(database, clone)
    try:
        boss = Credentials("boss@example.com", "boss-pass-123")
        await driver.configure(
            clone,
            current=ADMIN,
            setup=DatabaseSetup(
                admin=boss,
                company_name="Clone Co",
                lang="en_US",
                timezone="Europe/Brussels",
                base_url="https://clone.example.com",
            ),
        )
        # Running it again (a resumed job) finds the admin already changed and still works.
        await driver.configure(
            clone,
            current=ADMIN,
            setup=DatabaseSetup(
                admin=boss,
                company_name="Clone Co",
                lang="en_US",
                timezone="UTC",
                base_url="https://clone.example.com",
            ),
        )
        uid = await driver.authenticate(clone, boss)
        assert uid
        assert await driver.authenticate(clone, ADMIN) is None
        call = driver.client.execute_kw
        names = await call(
            clone, uid, boss.password, "res.company", "search_read", [[]], {"fields": ["name"]}
        )
        assert names[0]["name"] == "Clone Co"
        base = await call(
            clone, uid, boss.password, "ir.config_parameter", "get_param", ["web.base.url"]
        )
        assert base == "https://clone.example.com"
        original_uuid = await call(
            database, 2, ADMIN.password, "ir.config_parameter", "get_param", ["database.uuid"]
        )
        clone_uuid = await call(
            clone, uid, boss.password, "ir.config_parameter", "get_param", ["database.uuid"]
        )
        assert clone_uuid != original_uuid
    finally:
        await driver.drop(clone)


async def test_a_web_session_calls_the_orm_until_its_user_changes(
    driver: RpcDriver, database: str
) -> None:
    """One password check, then /web/dataset/call_kw calls checked by the session token;
    the session ends with the user's login (or password, or database.secret)."""
    clone = database + "_ws"
    await driver.clone(database, clone)
    try:
        with pytest.raises(OdooFault) as caught:
            await driver.client.web_session(clone, ADMIN.login, "wrong")
        assert caught.value.is_access_denied
        session = await driver.client.web_session(clone, ADMIN.login, ADMIN.password)
        assert session.uid == 2 and session.db == clone
        # The client keeps no cookie: only this session object carries it.
        assert not list(driver.client._http.cookies.jar)
        names = await session.call_kw("res.users", "read", [[2]], {"fields": ["login"]})
        assert names[0]["login"] == ADMIN.login
        await session.call_kw("ir.config_parameter", "set_param", ["saas.probe", "1"])
        await session.call_kw("res.users", "write", [[2], {"login": "renamed@example.com"}])
        with pytest.raises(OdooFault) as ended:
            await session.call_kw("res.users", "read", [[2]], {"fields": ["login"]})
        assert "SessionExpired" in ended.value.name
        renamed = Credentials("renamed@example.com", ADMIN.password)
        assert await driver.authenticate(clone, renamed) == 2
        again = await driver.client.web_session(clone, renamed.login, renamed.password)
        value = await again.call_kw("ir.config_parameter", "get_param", ["saas.probe"])
        assert value == "1"
    finally:
        await driver.drop(clone)


async def test_rename_and_configure_keeping_the_identity(driver: RpcDriver, database: str) -> None:
    """The standby path: a prepared database renamed, then configured without a new
    database.uuid/secret and without a new password hash when the password is kept."""
    spare, name = database + "_sp", database + "_tn"
    await driver.clone(database, spare)
    try:
        call = driver.client.execute_kw
        before = await call(
            spare, 2, ADMIN.password, "ir.config_parameter", "get_param", ["database.secret"]
        )
        await driver.rename(spare, name)
        assert not await driver.database_exists(spare)
        assert await driver.database_exists(name)
        owner = Credentials("owner@example.com", ADMIN.password)
        setup = DatabaseSetup(
            admin=owner,
            company_name="Renamed Co",
            lang="en_US",
            timezone="Europe/Paris",
            base_url="https://renamed.example.com",
        )
        await driver.configure(name, current=ADMIN, setup=setup, renew_identity=False)
        # A resumed job finds the login changed already and still completes.
        await driver.configure(name, current=ADMIN, setup=setup, renew_identity=False)
        assert await driver.authenticate(name, ADMIN) is None
        uid = await driver.authenticate(name, owner)
        assert uid == 2
        params = {
            key: await call(name, uid, owner.password, "ir.config_parameter", "get_param", [key])
            for key in ("database.secret", "web.base.url", "web.base.url.freeze")
        }
        assert params == {
            "database.secret": before,
            "web.base.url": "https://renamed.example.com",
            "web.base.url.freeze": "True",
        }
        user = await call(
            name, uid, owner.password, "res.users", "read", [[uid]], {"fields": ["tz"]}
        )
        assert user[0]["tz"] == "Europe/Paris"
        company = await call(
            name, uid, owner.password, "res.company", "search_read", [[]], {"fields": ["name"]}
        )
        assert company[0]["name"] == "Renamed Co"
    finally:
        for leftover in (spare, name):
            if await driver.database_exists(leftover):
                await driver.drop(leftover)


async def test_stop_refuses_work_and_start_restores(
    target: Target, driver: RpcDriver, database: str
) -> None:
    if target.postgres_url is None:
        pytest.skip("stop/start need SQL access to the host's PostgreSQL")
    await driver.stop(database)
    try:
        with pytest.raises(OdooFault):
            await driver.authenticate(database, ADMIN)
    finally:
        await driver.start(database)
    assert await driver.authenticate(database, ADMIN) == 2
    size = await driver.size(database)
    assert size is not None and size > 0


async def test_backup_stream_and_restore(driver: RpcDriver, database: str, tmp_path: Path) -> None:
    archive = tmp_path / "backup.zip"
    with archive.open("wb") as out:
        async for chunk in driver.dump(database):
            out.write(chunk)
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert names[0] == "dump.sql"
        assert "manifest.json" in names
    restored = database + "_r"
    with archive.open("rb") as source:
        await driver.restore(restored, source, copy=True)
    try:
        assert await driver.authenticate(restored, ADMIN) == 2
        with archive.open("rb") as source, pytest.raises(OdooFault) as caught:
            await driver.restore(restored, source, copy=True)
        assert "already exists" in caught.value.odoo_message
    finally:
        await driver.drop(restored)


async def test_restore_of_garbage_fails_clearly(driver: RpcDriver) -> None:
    name = "garbage_" + uuid.uuid4().hex[:6]
    with pytest.raises(OdooFault):
        await driver.restore(name, io.BytesIO(b"not a zip at all"), copy=False)
    # Odoo leaves the empty database behind (protocol 11.2): clean it up.
    if await driver.database_exists(name):
        await driver.drop(name)


async def test_drop_unknown_answers_false(driver: RpcDriver) -> None:
    assert await driver.drop("no_such_db_" + uuid.uuid4().hex[:6]) is False
