"""`saas backups`: list, create, verify, restore and import on the command line."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from saas_platform.cli.main import app
from saas_platform.core.runtime import Runtime
from tests.backups.support import Tenant, ready_tenant
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.smtp import Inbox
from tests.instances.test_provisioning import add_host

pytestmark = pytest.mark.slow


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, odoo: EmulatorProcess
) -> Tenant:
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    await add_host(client, admin, odoo)
    return await ready_tenant(client, runtime, owner, odoo)


def cli(runtime: Runtime, args: list[str], stdin: str | None = None) -> tuple[int, str]:
    env = {
        "SAAS_DATABASE_URL": runtime.database_url,
        "SAAS_DATA_DIR": str(runtime.settings.data_dir),
        "SAAS_SECRET_KEY": TEST_SECRET_KEY,
        "SAAS_LOG_LEVEL": "WARNING",
        "SAAS_ODOO_EMULATOR": "off",
    }
    result = CliRunner().invoke(app, args, env=env, input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


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
    code, out = cli(runtime, ["backups", "restore", backup_id])
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
