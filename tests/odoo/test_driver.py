"""The ``OdooDriver`` operations callers use instead of reaching into the Odoo client:
config parameters, a password change in one login, drop-and-confirm, the database list.

Against the emulator, or a real Odoo with SAAS_TEST_ODOO_URL (see tests/odoo/conftest.py).
Odoo's side is read with plain ``execute_kw`` calls, not with the operations under test.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import saas_server
from saas_server.odoo.client import OdooClient
from saas_server.odoo.driver import Credentials, OdooDriver
from saas_server.odoo.errors import OdooFault
from saas_server.odoo.rpc_driver import RpcDriver

if TYPE_CHECKING:
    from tests.fixtures.odoo import OdooTarget as Target

pytestmark = pytest.mark.slow

ADMIN = Credentials("admin", "admin-pass-1")


@pytest.fixture(scope="module")
async def database(target: Target) -> AsyncIterator[str]:
    """One database for the module (a real server takes 10-20 s to create one); each test
    changes a clone of it (about 0.5 s)."""
    name = "dr_" + uuid.uuid4().hex[:8]
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


async def parameter(driver: RpcDriver, name: str, password: str, key: str) -> object:
    return await driver.client.execute_kw(
        name, 2, password, "ir.config_parameter", "get_param", [key]
    )


async def test_set_config_parameters_writes_every_value(driver: RpcDriver, clone: str) -> None:
    uid = await driver.authenticate(clone, ADMIN)
    assert uid == 2
    values = {"web.base.url": "https://cp.example.com", "web.base.url.freeze": "True"}
    await driver.set_config_parameters(clone, uid, ADMIN.password, values)
    assert {key: await parameter(driver, clone, ADMIN.password, key) for key in values} == values
    # Written again (a resumed job): the same values, no error.
    await driver.set_config_parameters(clone, uid, ADMIN.password, values)
    assert await parameter(driver, clone, ADMIN.password, "web.base.url") == values["web.base.url"]


async def test_set_config_parameters_with_a_wrong_password_writes_nothing(
    driver: RpcDriver, clone: str
) -> None:
    with pytest.raises(OdooFault) as caught:
        await driver.set_config_parameters(clone, 2, "wrong", {"saas.probe": "1"})
    assert caught.value.is_access_denied
    assert await parameter(driver, clone, ADMIN.password, "saas.probe") is False


async def test_set_password_writes_the_parameters_then_the_password(
    driver: RpcDriver, clone: str
) -> None:
    await driver.set_password(
        clone, ADMIN, "new-pass-456", parameters={"web.base.url.freeze": "True", "saas.probe": "1"}
    )
    assert await driver.authenticate(clone, ADMIN) is None
    renewed = Credentials(ADMIN.login, "new-pass-456")
    assert await driver.authenticate(clone, renewed) == 2
    assert await parameter(driver, clone, renewed.password, "web.base.url.freeze") == "True"
    assert await parameter(driver, clone, renewed.password, "saas.probe") == "1"

    # The old password is refused before anything is written.
    with pytest.raises(OdooFault) as caught:
        await driver.set_password(clone, ADMIN, "other-pass", parameters={"saas.probe": "2"})
    assert caught.value.is_access_denied
    assert await parameter(driver, clone, renewed.password, "saas.probe") == "1"
    assert await driver.authenticate(clone, renewed) == 2


async def test_set_password_without_parameters(driver: RpcDriver, clone: str) -> None:
    await driver.set_password(clone, ADMIN, "plain-pass-789")
    assert await driver.authenticate(clone, Credentials(ADMIN.login, "plain-pass-789")) == 2


async def test_drop_and_confirm_drops_and_proves_it(driver: RpcDriver, clone: str) -> None:
    assert await driver.database_exists(clone)
    assert await driver.drop_and_confirm(clone) is True
    assert not await driver.database_exists(clone)
    # Gone already (a rerun after a crash): nothing to do, still gone.
    assert await driver.drop_and_confirm(clone) is True


async def test_drop_and_confirm_reopens_a_stopped_database(
    target: Target, driver: RpcDriver, clone: str
) -> None:
    """A stopped database is missing from db.list, where db.drop answers false (protocol
    §11.2): the drop must reopen it first."""
    if target.postgres_url is None:
        pytest.skip("stop needs SQL access to the host's PostgreSQL")
    await driver.stop(clone)
    assert await driver.drop_and_confirm(clone) is True
    assert not await driver.database_exists(clone)


class _DropsNothing(OdooClient):
    """Odoo's answer to ``db.drop`` without the drop: its word, not the proof."""

    def __init__(self, url: str, answer: bool) -> None:
        super().__init__(url)
        self.answer = answer
        self.drops: list[str] = []

    async def drop_database(self, master_password: str, name: str) -> bool:
        self.drops.append(name)
        return self.answer


@pytest.mark.parametrize("answer", [True, False])
async def test_drop_and_confirm_is_false_while_the_database_is_still_there(
    target: Target, clone: str, answer: bool
) -> None:
    client = _DropsNothing(target.url, answer)
    lying = RpcDriver(
        target.url, target.master_password, postgres_url=target.postgres_url, client=client
    )
    try:
        assert await lying.drop_and_confirm(clone) is False
        assert client.drops == [clone]
        # Unknown: no drop is asked for at all.
        assert await lying.drop_and_confirm(clone + "_none") is True
        assert client.drops == [clone]
    finally:
        await lying.close()


async def test_list_databases_leaves_out_stopped_ones(
    target: Target, driver: RpcDriver, clone: str
) -> None:
    assert clone in await driver.list_databases()
    if target.postgres_url is None:
        return
    await driver.stop(clone)
    try:
        assert clone not in await driver.list_databases()
    finally:
        await driver.start(clone)
    assert clone in await driver.list_databases()


async def test_can_stop_only_with_sql_access(target: Target) -> None:
    without = RpcDriver(target.url, target.master_password)
    with_sql = RpcDriver(target.url, target.master_password, postgres_url="postgresql://h/db")
    try:
        assert without.can_stop is False
        assert with_sql.can_stop is True
    finally:
        await without.close()
        await with_sql.close()


def test_rpc_driver_implements_every_operation_of_the_interface() -> None:
    operations = {name for name in vars(OdooDriver) if not name.startswith("_")}
    assert {"set_config_parameters", "drop_and_confirm", "list_databases"} <= operations
    assert sorted(name for name in operations if not hasattr(RpcDriver, name)) == []


def test_only_the_host_factory_names_the_implementation() -> None:
    """Callers depend on ``OdooDriver``: outside odoo/, only the module of ``driver_for``
    (the host factory) names ``RpcDriver``, and nothing reaches past a driver into its
    Odoo client (``driver.client``)."""
    root = Path(saas_server.__file__).parent
    naming: set[str] = set()
    factories: set[str] = set()
    reaching: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("odoo/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id == "RpcDriver":
                naming.add(relative)
            elif isinstance(node, ast.ImportFrom) and node.module == "saas_server.odoo.rpc_driver":
                naming.add(relative)
            elif isinstance(node, ast.FunctionDef) and node.name == "driver_for":
                factories.add(relative)
            elif isinstance(node, ast.Attribute) and node.attr == "client":
                owner = node.value
                owner_name = (
                    owner.attr
                    if isinstance(owner, ast.Attribute)
                    else owner.id
                    if isinstance(owner, ast.Name)
                    else ""
                )
                if owner_name == "driver":
                    reaching.append(f"{relative}:{node.lineno}")
    assert len(factories) == 1
    assert naming == factories
    assert reaching == []
