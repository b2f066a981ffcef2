"""The archive the driver assembles itself is the one Odoo's own backup route makes."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile

import httpx
import pytest

from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures.odoo import EmulatorProcess

pytestmark = pytest.mark.slow


async def test_direct_archive_matches_the_route_and_restores_through_odoo(
    odoo: EmulatorProcess,
) -> None:
    name = "d" + uuid.uuid4().hex[:10]
    odoo.rpc("db", "create_database", odoo.master_password, name, False, "en_US", "admin", "admin")
    uid = odoo.rpc("common", "authenticate", name, "admin", "admin", {})
    content = b"filestore bytes " * 5000
    odoo.rpc(
        "object", "execute_kw", name, uid, "admin", "ir.attachment", "create",
        [{"name": "probe.bin", "datas": base64.b64encode(content).decode()}], {},
    )  # fmt: skip

    route = RpcDriver(odoo.url, odoo.master_password)
    direct = RpcDriver(
        odoo.url,
        odoo.master_password,
        postgres_url=odoo.postgres_url,
        filestore_root=odoo.data_dir / "filestore",
    )
    try:
        by_route = b"".join([c async for c in route.dump(name)])
        by_driver = b"".join([c async for c in direct.dump(name)])
    finally:
        await route.close()
        await direct.close()

    with zipfile.ZipFile(io.BytesIO(by_route)) as a, zipfile.ZipFile(io.BytesIO(by_driver)) as b:
        assert b.testzip() is None
        assert b.namelist()[0] == "dump.sql"
        assert set(a.namelist()) == set(b.namelist())
        for member in a.namelist():
            if member.startswith("filestore/"):
                assert a.read(member) == b.read(member)
        ours, odoos = json.loads(b.read("manifest.json")), json.loads(a.read("manifest.json"))
        assert ours == odoos
        assert b"probe.bin" in b.read("dump.sql")

    # Odoo's own restore route takes it.
    copy = name + "_copy"
    response = httpx.post(
        odoo.url + "/web/database/restore",
        data={"master_pwd": odoo.master_password, "name": copy, "copy": "true"},
        files={"backup_file": ("b.zip", by_driver, "application/zip")},
        timeout=120,
    )
    assert response.status_code == 303, response.text[:300]
    uid = odoo.rpc("common", "authenticate", copy, "admin", "admin", {})
    [found] = odoo.rpc(
        "object", "execute_kw", copy, uid, "admin", "ir.attachment", "search_read",
        [[["name", "=", "probe.bin"]]], {"fields": ["datas"]},
    )  # fmt: skip
    assert base64.b64decode(found["datas"]) == content


async def test_a_failing_dump_raises_to_the_reader(odoo: EmulatorProcess) -> None:
    direct = RpcDriver(
        odoo.url,
        odoo.master_password,
        postgres_url=odoo.postgres_url,
        filestore_root=odoo.data_dir / "filestore",
    )
    try:
        with pytest.raises(Exception):  # noqa: B017 - no such database: psycopg's error
            [c async for c in direct.dump("no_such_database_" + uuid.uuid4().hex[:6])]
    finally:
        await direct.close()
