"""An Odoo server for the tests: a real one, or the emulator.

With ``SAAS_TEST_ODOO_URL`` (and ``SAAS_TEST_ODOO_MASTER_PASSWORD``) the tests run against that
server; they state Odoo's documented behaviour (shared/odoo-protocol.md), so they must pass
there too. ``SAAS_TEST_ODOO_POSTGRES_URL`` gives SQL access to its PostgreSQL for the few tests
that need it (they are skipped without it). ``test_change_admin_password_...`` changes the
master password and sets it back: a real Odoo rewrites its config file when it does.

Otherwise the emulator is started in a background thread, with its databases in the test
PostgreSQL (``pg_server``) and a temporary data dir, once per version in
``SAAS_TEST_ODOO_EMULATOR_VERSIONS`` (default ``17.0,18.0,19.0``).

Creating a database costs 10-20 s on a real server, so each package run creates one template
database and each test module works on a ``duplicate_database`` copy of it (0.5 s).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, unique_db_name

EXTERNAL_URL = os.environ.get("SAAS_TEST_ODOO_URL")


def _emulator_versions() -> list[str]:
    if EXTERNAL_URL:
        return ["external"]
    raw = os.environ.get("SAAS_TEST_ODOO_EMULATOR_VERSIONS", "17.0,18.0,19.0")
    return [v.strip() for v in raw.split(",") if v.strip()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="package", params=_emulator_versions())
def odoo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OdooServer]:
    """(base URL, master password, version) of the server under test."""
    if request.param == "external":
        assert EXTERNAL_URL is not None
        master = os.environ.get("SAAS_TEST_ODOO_MASTER_PASSWORD", "admin")
        server = OdooServer.probe(
            EXTERNAL_URL.rstrip("/"), master, os.environ.get("SAAS_TEST_ODOO_POSTGRES_URL")
        )
        yield server
        return

    from odoo_emulator.config import EmulatorConfig
    from odoo_emulator.server import BackgroundServer
    from odoo_emulator.versions import get_version

    pg_server: str = request.getfixturevalue("pg_server")
    data_dir: Path = tmp_path_factory.mktemp(f"odoo-emulator-{request.param}")
    master = "master-" + secrets.token_hex(6)
    config = EmulatorConfig(
        data_dir=data_dir,
        version=get_version(request.param),
        port=_free_port(),
        postgres_url=pg_server,
        master_password=master,
    )
    background = BackgroundServer(config)
    url = background.start()
    try:
        server = OdooServer.probe(url, master, pg_server, emulator_data_dir=data_dir)
        yield server
    finally:
        background.stop()


@pytest.fixture(scope="package")
def template_db(odoo: OdooServer) -> Iterator[str]:
    """One database created per run (admin / ADMIN_PASSWORD), cloned by each module."""
    name = unique_db_name()
    odoo.db("create_database", odoo.master_password, name, False, "en_US", ADMIN_PASSWORD, "admin")
    try:
        yield name
    finally:
        odoo.drop_quietly(name)


@pytest.fixture(scope="module")
def database(odoo: OdooServer, template_db: str) -> Iterator[str]:
    """A module's own copy of the template database."""
    name = unique_db_name()
    odoo.db("duplicate_database", odoo.master_password, template_db, name)
    try:
        yield name
    finally:
        odoo.drop_quietly(name)
