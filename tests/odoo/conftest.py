"""The Odoo server the tests of this directory speak to: the emulator by default, a real
Odoo when SAAS_TEST_ODOO_URL and SAAS_TEST_ODOO_MASTER_PASSWORD are set (plus
SAAS_TEST_ODOO_POSTGRES_URL for what needs SQL: stop/start/size)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures.odoo import OdooTarget as Target
from tests.fixtures.odoo import running_emulator


@pytest.fixture(scope="module")
def target(odoo_pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    url = os.environ.get("SAAS_TEST_ODOO_URL")
    if url:
        yield Target(
            url,
            os.environ["SAAS_TEST_ODOO_MASTER_PASSWORD"],
            os.environ.get("SAAS_TEST_ODOO_POSTGRES_URL"),
        )
        return
    with running_emulator(odoo_pg_server, tmp_path_factory.mktemp("odoo")) as emulator:
        yield Target(emulator.url, emulator.master_password, emulator.postgres_url)


@pytest.fixture
async def driver(target: Target) -> AsyncIterator[RpcDriver]:
    d = RpcDriver(target.url, target.master_password, postgres_url=target.postgres_url)
    yield d
    await d.close()
