"""The built-in Odoo emulator that ``saas serve`` runs beside the API.

``SAAS_ODOO_EMULATOR``: ``auto`` (default) starts it when no other host is registered, or
when it was registered before; ``on`` always; ``off`` never. It runs as a separate process
(the platform reaches it over HTTP only, as it would a real Odoo), keeps its databases in
the platform's PostgreSQL server and its filestores under ``<data dir>/odoo-emulator``, and
is registered as a host with that server's URL so stop and start work on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
from pathlib import Path

import httpx
from sqlalchemy import select

from saas_platform.core.db import with_database
from saas_platform.core.errors import ConfigurationError
from saas_platform.core.runtime import Runtime
from saas_platform.hosts.models import OdooHost
from saas_platform.hosts.service import EMULATOR_DIR, HostService
from saas_platform.instances import service as instances

logger = logging.getLogger(__name__)

EMULATOR_HOST_NAME = "builtin-emulator"
START_TIMEOUT_SECONDS = 60


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BuiltinEmulator:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.data_dir = Path(self.settings.data_dir) / EMULATOR_DIR
        self.process: asyncio.subprocess.Process | None = None
        self.url: str | None = None

    async def wanted(self) -> bool:
        mode = self.settings.odoo_emulator
        if mode == "off":
            return False
        if mode == "on":
            return True
        async with self.runtime.db.sessionmaker() as session:
            hosts = list((await session.execute(select(OdooHost))).scalars())
        # auto: only while no real host exists, or when it served tenants before.
        return not hosts or any(h.is_emulator for h in hosts)

    def _master_password(self) -> str:
        path = self.data_dir / "master_password"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        path.touch(mode=0o600)
        path.write_text(password)
        return password

    async def start(self) -> None:
        if not await self.wanted():
            return
        master_password = self._master_password()
        port = self.settings.odoo_emulator_port
        if not _port_free(port):
            port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        # Its own role on the embedded server: it sees and owns only its databases.
        postgres_url = self.runtime.emulator_database_url or with_database(
            self.runtime.database_url, "postgres"
        )
        log = open(self.data_dir / "emulator.log", "ab")  # noqa: ASYNC230 (once, at start)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "saas_platform.cli.main",
            "odoo-emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(self.data_dir),
            "--odoo-version",
            self.settings.default_odoo_version,
            "--postgres-url",
            postgres_url,
            env={**os.environ, "SAAS_ODOO_EMULATOR_MASTER_PASSWORD": master_password},
            stdout=log,
            stderr=log,
        )
        log.close()
        await self._wait_until_up()
        await self._register(master_password, postgres_url)
        logger.info("built-in Odoo emulator on %s", self.url)

    async def _wait_until_up(self) -> None:
        assert self.process is not None and self.url is not None
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process.returncode is not None:
                    raise ConfigurationError(
                        "The built-in Odoo emulator exited at start; see "
                        f"{self.data_dir / 'emulator.log'}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.url + "/web/health")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise ConfigurationError("The built-in Odoo emulator did not start in time")
                await asyncio.sleep(0.2)

    async def _register(self, master_password: str, postgres_url: str) -> None:
        assert self.url is not None
        async with self.runtime.db.transaction() as session:
            service = HostService(session, self.runtime)
            existing = (
                await session.execute(select(OdooHost).where(OdooHost.is_emulator.is_(True)))
            ).scalar_one_or_none()
            if existing is None:
                host = await service.add(
                    name=EMULATOR_HOST_NAME,
                    url=self.url,
                    master_password=master_password,
                    odoo_version=self.settings.default_odoo_version,
                    capacity=self.settings.odoo_emulator_capacity,
                    postgres_url=postgres_url,
                    is_emulator=True,
                )
            else:
                host = await service.update(
                    existing,
                    {
                        "url": self.url,
                        "master_password": master_password,
                        "postgres_url": postgres_url,
                    },
                )
            await instances.resume_waiting(session, self.runtime, host.odoo_version)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
