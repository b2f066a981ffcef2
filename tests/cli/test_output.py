"""Listing commands show whole ids and speak JSON with --json (the API's own objects)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saas_server.cli.main import app
from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.models import HostStatus, OdooHost
from tests.fixtures.settings import TEST_SECRET_KEY


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return {
        "SAAS_DATABASE_URL": database_url,
        "SAAS_DATA_DIR": str(tmp_path / "data"),
        "SAAS_SECRET_KEY": TEST_SECRET_KEY,
        "SAAS_LOG_LEVEL": "WARNING",
        "SAAS_ODOO_EMULATOR": "off",
    }


def _invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.output


async def _hosts(runtime: Runtime, count: int) -> list[uuid.UUID]:
    async with runtime.db.transaction() as session:
        hosts = [
            OdooHost(
                name=f"a-rather-long-host-name-{n}",
                url=f"http://odoo-{n}.internal.example.test:8069",
                master_password_encrypted=runtime.secrets.encrypt("master"),
                odoo_version="18.0",
                capacity=50,
                status=HostStatus.DOWN.value,
            )
            for n in range(count)
        ]
        session.add_all(hosts)
        await session.flush()
        return [host.id for host in hosts]


async def test_hosts_list_shows_whole_ids_and_speaks_json(
    cli_env: dict[str, str], runtime: Runtime
) -> None:
    ids = await _hosts(runtime, 2)

    # The command runs its own event loop: off this test's.
    code, _, out = await asyncio.to_thread(_invoke, ["hosts", "list"], cli_env)
    assert code == 0, out
    for host_id in ids:
        assert str(host_id) in out, out  # whole, on one line, on an 80-column console

    code, stdout, out = await asyncio.to_thread(_invoke, ["hosts", "list", "--json"], cli_env)
    assert code == 0, out
    listed = json.loads(stdout)
    assert {h["id"] for h in listed} == {str(i) for i in ids}
    first = listed[0]
    # The API's HostRead: same names, no secret.
    assert {"id", "name", "url", "odoo_version", "status", "instance_count", "capacity"} <= set(
        first
    )
    assert "master_password" not in json.dumps(listed) and "master" not in first.values()


def test_audit_verify_speaks_json(cli_env: dict[str, str]) -> None:
    code, stdout, out = _invoke(["audit", "verify", "--json"], cli_env)
    assert code == 0, out
    report = json.loads(stdout)
    assert report["intact"] is True and report["broken"] is None
    assert isinstance(report["checked"], int)
