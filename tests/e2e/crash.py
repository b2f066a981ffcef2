"""``saas serve`` as a real process on a test database, to kill with SIGKILL and restart.

The test reaches the same database through its own runtime (to read state and make users);
the server runs the API, the in-process worker and the built-in emulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import select

from saas_platform.core.db import with_database
from saas_platform.core.runtime import Runtime
from saas_platform.instances.hosts.models import OdooHost
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.odoo import SAAS
from tests.fixtures.smtp import free_port


class CrashableServe:
    def __init__(
        self,
        database_url: str,
        workdir: Path,
        smtp_port: int,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "serve.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")} | {
            "SAAS_ENV": "test",
            "SAAS_DATABASE_URL": database_url,
            "SAAS_SECRET_KEY": TEST_SECRET_KEY,
            "SAAS_DATA_DIR": str(workdir / "data"),
            "SAAS_PUBLIC_URL": self.base_url,
            "SAAS_MAIL_BACKEND": "smtp",
            "SAAS_SMTP_HOST": "127.0.0.1",
            "SAAS_SMTP_PORT": str(smtp_port),
            "SAAS_ODOO_EMULATOR": "on",
            "SAAS_ODOO_EMULATOR_PORT": str(free_port()),
            "SAAS_WORKER_HEARTBEAT_SECONDS": "0.5",
            "SAAS_STALLED_WORKER_SECONDS": "2",
            "SAAS_LOG_LEVEL": "INFO",
            "SAAS_LOG_FORMAT": "text",
            "SAAS_FAULTS": json.dumps({}),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 120) -> None:
        """Start and wait for /health; a process that exits instead fails the test."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            self.proc = subprocess.Popen(
                [SAAS, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"saas serve exited with {self.proc.returncode} at start {self.starts}:\n"
                    + self.log_tail()
                )
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"saas serve did not answer /health within {timeout}s")

    def kill(self) -> None:
        """SIGKILL the server and what it started (the emulator runs in its own process)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = _children(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        return []
    return [int(line) for line in out.split()]


async def drop_emulator_databases(runtime: Runtime, tenant_databases: list[str]) -> None:
    """The built-in emulator keeps its databases on the shared test server: drop this
    test's (its tenants', and the templates and standbys of its hosts)."""
    async with runtime.db.sessionmaker() as session:
        host_keys = [h.id.hex[:8] for h in (await session.execute(select(OdooHost))).scalars()]
    async with await psycopg.AsyncConnection.connect(
        with_database(runtime.database_url, "postgres"), autocommit=True
    ) as conn:
        rows = await (await conn.execute("SELECT datname FROM pg_database")).fetchall()
        for (name,) in rows:
            of_its_hosts = name.startswith(("saas_template_", "saas_standby_")) and any(
                key in name for key in host_keys
            )
            if name in tenant_databases or of_its_hosts:
                await conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
