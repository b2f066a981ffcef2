"""`saas backups`: list, create, verify, restore and import on the command line."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from saas_server.cli.main import app
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.backups import Tenant, ready_tenant
from tests.fixtures.cli import cli, cli_env
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow

SAAS = str(Path(sys.executable).parent / "saas")


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, odoo: EmulatorProcess
) -> Tenant:
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    await add_host(client, admin, odoo)
    return await ready_tenant(client, runtime, owner, odoo)


def cli_json(runtime: Runtime, args: list[str]) -> Any:
    result = CliRunner().invoke(
        app, [*args, "--json"], env=cli_env(runtime), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def on_a_terminal(runtime: Runtime, args: list[str], answer: str, cwd: Path) -> tuple[int, str]:
    """Run ``saas`` as a person would, on a terminal (a pty), answering its question."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [SAAS, *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env={**os.environ, **cli_env(runtime)},
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(leader, answer.encode() + b"\r")
            answered = True
        if process.poll() is not None and not ready:
            break
    code = process.wait(timeout=120)
    os.close(leader)
    return code, seen.decode(errors="replace")


def test_backup_verify_restore_and_import_from_the_command_line(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    subdomain = tenant.database
    tenant.call("res.partner", "create", {"name": "Probe Kept"})
    code, out = cli(runtime, ["backups", "create", "--tenant", subdomain])
    assert code == 0, out
    backup_id = out.split("Backup ")[1].split(":")[0]
    code, out = cli(runtime, ["backups", "list", "--tenant", subdomain])
    assert code == 0 and backup_id[:8] in out and "completed" in out

    code, out = cli(runtime, ["backups", "verify", backup_id])
    assert code == 0, out
    assert "sound" in out

    tenant.call("res.partner", "create", {"name": "Probe Dropped"})
    # --yes: restoring over live data asks first otherwise (test_restore_asks_first).
    code, out = cli(runtime, ["backups", "restore", backup_id, "--yes"])
    assert code == 0, out
    assert tenant.partner_names() == {"Probe Kept"}

    # An archive made by Odoo's own backup route joins the tenant's backups.
    archive = httpx.post(
        tenant.odoo.url + "/web/database/backup",
        data={"master_pwd": tenant.odoo.master_password, "name": subdomain},
        timeout=120,
    ).content
    path = tmp_path / "odoo.zip"
    path.write_bytes(archive)
    code, out = cli(
        runtime,
        ["backups", "import", str(path), "--tenant", subdomain, "--admin-login", tenant.login,
         "--admin-password-stdin"],
        stdin=tenant.password + "\n",
    )  # fmt: skip
    assert code == 0, out
    assert "Imported as backup" in out

    # Mistakes are one sentence, not a traceback.
    code, out = cli(runtime, ["backups", "list", "--tenant", "no-such-tenant"])
    assert code != 0 and "No tenant" in out and "Traceback" not in out
    code, out = cli(runtime, ["backups", "verify", "not-an-id"])
    assert code != 0 and "not a backup id" in out


def test_restore_asks_first_and_commands_speak_json(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    subdomain = tenant.database
    tenant.call("res.partner", "create", {"name": "Probe Kept"})
    created = cli_json(runtime, ["backups", "create", "--tenant", subdomain])
    backup_id = created["id"]
    assert created["status"] == "completed" and created["tenant_id"] == tenant.id
    listed = cli_json(runtime, ["backups", "list", "--tenant", subdomain])
    assert backup_id in [b["id"] for b in listed]
    verified = cli_json(runtime, ["backups", "verify", backup_id])
    assert verified["sound"] is True and verified["backup"]["id"] == backup_id

    code, out = cli(runtime, ["backups", "list", "--tenant", subdomain])
    assert code == 0 and backup_id in out, out  # the whole id, never cut

    tenant.call("res.partner", "create", {"name": "Probe Live"})
    # No terminal to ask on and no --yes: refused, nothing touched.
    code, out = cli(runtime, ["backups", "restore", backup_id])
    assert code != 0 and "--yes" in out, out
    assert tenant.partner_names() == {"Probe Kept", "Probe Live"}

    # On a terminal it asks; "no" (the default) changes nothing.
    code, out = on_a_terminal(runtime, ["backups", "restore", backup_id], "n", tmp_path)
    assert code != 0, out
    assert subdomain in out and "[y/N]" in out, out
    assert tenant.partner_names() == {"Probe Kept", "Probe Live"}

    code, out = on_a_terminal(runtime, ["backups", "restore", backup_id], "y", tmp_path)
    assert code == 0, out
    assert tenant.partner_names() == {"Probe Kept"}

    restored = cli_json(runtime, ["backups", "restore", backup_id, "--yes"])
    assert restored["status"] == "completed" and restored["backup_id"] == backup_id


def _audit_rows(runtime: Runtime, resource_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(runtime.database_url) as conn:
        return conn.execute(
            "SELECT action, user_id, tenant_id::text, new_values, user_agent"
            " FROM audit_log WHERE resource_id = %s ORDER BY seq",
            (resource_id,),
        ).fetchall()


def test_backup_and_restore_from_the_command_line_leave_audit_entries(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the backups service, as in the API: each leaves its audit entry, by the
    console (no account, the client ``saas-cli``), and the chain still verifies."""
    monkeypatch.chdir(tmp_path)
    created = cli_json(
        runtime, ["backups", "create", "--tenant", tenant.database, "--reason", "before upgrade"]
    )
    assert _audit_rows(runtime, created["id"]) == [
        (
            "backup.created",
            None,
            tenant.id,
            {"type": "manual", "reason": "before upgrade"},
            "saas-cli",
        )
    ]

    restored = cli_json(runtime, ["backups", "restore", created["id"], "--yes"])
    assert restored["status"] == "completed"
    rows = _audit_rows(runtime, restored["id"])
    assert rows[0] == (
        "backup.restore_requested",
        None,
        tenant.id,
        {"backup_id": created["id"], "as_copy": False},
        "saas-cli",
    )
    # Then the restore flow's own entry, as after an API restore.
    assert [row[0] for row in rows] == ["backup.restore_requested", "backup.restored"]
    code, out = cli(runtime, ["audit", "verify"])
    assert code == 0, out


def test_restore_from_the_command_line_refuses_another_odoo_version(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's version check (400 BACKUP_VERSION_MISMATCH) refuses the command too,
    before anything is touched: no restore, no transition, the live data kept."""
    monkeypatch.chdir(tmp_path)
    tenant.call("res.partner", "create", {"name": "Probe Kept"})
    created = cli_json(runtime, ["backups", "create", "--tenant", tenant.database])
    tenant.call("res.partner", "create", {"name": "Probe Live"})
    with psycopg.connect(runtime.database_url) as conn:
        instance_version = conn.execute(
            "SELECT odoo_version FROM instances WHERE tenant_id = %s", (tenant.id,)
        ).fetchone()[0]
        other = "17.0" if not instance_version.startswith("17") else "18.0"
        conn.execute("UPDATE backups SET odoo_version = %s WHERE id = %s", (other, created["id"]))

    code, out = cli(runtime, ["backups", "restore", created["id"], "--yes"])

    assert code != 0 and "Traceback" not in out, out
    assert "This backup is of another Odoo version than the instance" in out, out
    assert f"backup: {other}" in out and f"instance: {instance_version}" in out, out
    with psycopg.connect(runtime.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM restores").fetchone()[0] == 0
        assert (
            conn.execute(
                "SELECT status FROM instances WHERE tenant_id = %s", (tenant.id,)
            ).fetchone()[0]
            == "ready"
        )
        assert not conn.execute(
            "SELECT 1 FROM audit_log WHERE action = 'backup.restore_requested'"
        ).fetchall()
    assert tenant.partner_names() == {"Probe Kept", "Probe Live"}
