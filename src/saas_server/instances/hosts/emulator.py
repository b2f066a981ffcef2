"""The built-in Odoo emulator that ``saas serve`` runs beside the API, and supervises.

``SAAS_ODOO_EMULATOR``: ``auto`` (default) starts it when no other host is registered, or
when it was registered before; ``on`` always; ``off`` never. It runs as a separate process
(the platform reaches it over HTTP only, as it would a real Odoo), keeps its databases in
the platform's PostgreSQL server and its filestores under ``<data dir>/odoo-emulator``, and
is registered as a host with that server's URL so stop and start work on it.

Every supported version is served out of the box, each on its own port and registered as
its own host, so each documented ``odoo_version`` provisions on a fresh clone: the default
version on ``SAAS_ODOO_EMULATOR_PORT``, the others on the next ports (any free port when
one is taken). One emulator process serves them all rather than one process per version:
the versions share the data dir, the PostgreSQL server and the master password anyway, and
one interpreter costs a third of the memory and start-up time of three on a small machine;
a crash takes every version down at once, which the supervisor repairs within seconds.

Supervision (issue 22, "processes the platform starts are the platform's to stop"):
- The ports are bound here and the emulator inherits the listening sockets: the address
  registered is the one bound, never one checked for being free and bound later (another
  program, or another platform started at the same moment, could take it in between).
  Once it serves, the emulator reports the addresses it serves on over a control socket,
  and only those are registered.
- The sockets stay open here for the platform's lifetime, so a restarted emulator serves on
  the same addresses and the hosts' URLs stay valid; requests arriving while it restarts
  wait in the sockets' backlog rather than reach another program.
- When the emulator exits, its hosts are marked down at once and it is started again (with
  a growing delay while it keeps failing); once it serves, the hosts are checked (healthy
  again) and waiting instances are resumed.
- The emulator runs in its own session (a Ctrl-C of the terminal reaches only the platform,
  which then stops it) and stops by itself when the control socket closes: a platform that
  is killed leaves no emulator behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from saas_server.core.db import with_database
from saas_server.core.errors import ConfigurationError
from saas_server.core.runtime import Runtime
from saas_server.core.serving import bound_url, listen_on
from saas_server.instances import service as instances
from saas_server.instances.hosts.drivers import EMULATOR_DIR
from saas_server.instances.hosts.lifecycle import HOST, HostAction
from saas_server.instances.hosts.models import HostStatus, OdooHost
from saas_server.instances.hosts.service import SUPPORTED_VERSIONS, HostService

logger = logging.getLogger(__name__)

EMULATOR_HOST_NAME = "builtin-emulator"
# Where the emulator writes Odoo's server log when no ``--logfile`` is given (in its data
# dir): the built-in emulator's hosts are registered with it, so that tenants' logs show
# their database's lines.
ODOO_LOG_FILE_NAME = "odoo.log"
START_TIMEOUT_SECONDS = 60
# Delays before successive restarts while the emulator keeps dying soon after starting.
RESTART_DELAYS_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# An emulator that served this long before dying is restarted at the shortest delay again.
STABLE_AFTER_SECONDS = 60.0


def emulator_ports(default_version: str, first_port: int) -> dict[str, int]:
    """The port each version asks for: the default version ``first_port``, the others the
    ports after it (0, any free port, when ``first_port`` is 0 or they would overflow)."""
    others = [version for version in SUPPORTED_VERSIONS if version != default_version]
    ports = {default_version: first_port}
    for offset, version in enumerate(others, start=1):
        port = first_port + offset if first_port else 0
        ports[version] = port if port < 65536 else 0
    return ports


def restart_delay(failures: int) -> float:
    return RESTART_DELAYS_SECONDS[min(failures, len(RESTART_DELAYS_SECONDS) - 1)]


def host_name(version: str) -> str:
    return f"{EMULATOR_HOST_NAME}-{version}"


class BuiltinEmulator:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.data_dir = Path(self.settings.data_dir) / EMULATOR_DIR
        self.process: asyncio.subprocess.Process | None = None
        # Version -> listening socket (bound here) and the URL the emulator reported for it.
        self.sockets: dict[str, socket.socket] = {}
        self.urls: dict[str, str] = {}
        self.restarts = 0
        self._control: asyncio.StreamWriter | None = None
        self._launched_at = 0.0
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._master_password = ""
        self._postgres_url = ""

    @property
    def url(self) -> str | None:
        """The URL of the default version's emulator."""
        return self.urls.get(self.settings.default_odoo_version)

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

    def _read_master_password(self) -> str:
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
        self._master_password = self._read_master_password()
        # Its own role on the embedded server: it sees and owns only its databases.
        self._postgres_url = self.runtime.emulator_database_url or with_database(
            self.runtime.database_url, "postgres"
        )
        self._claim_ports()
        await self._launch()
        await self._register()
        self._supervisor = asyncio.create_task(self._supervise(), name="odoo-emulator-supervisor")
        logger.info("built-in Odoo emulator on %s", ", ".join(self.urls.values()))

    def _claim_ports(self) -> None:
        ports = emulator_ports(self.settings.default_odoo_version, self.settings.odoo_emulator_port)
        for version, port in ports.items():
            try:
                self.sockets[version] = listen_on("127.0.0.1", port)
            except OSError as exc:
                logger.info("port %s for the Odoo %s emulator: %s", port, version, exc.strerror)
                self.sockets[version] = listen_on("127.0.0.1", 0)

    async def _launch(self) -> None:
        """Start the emulator on the claimed sockets and wait until it reports serving."""
        parent_end, child_end = socket.socketpair()
        args = [
            sys.executable,
            "-m",
            "saas_server.cli.main",
            "odoo-emulator",
            "--data-dir",
            str(self.data_dir),
            "--postgres-url",
            self._postgres_url,
            "--control-fd",
            str(child_end.fileno()),
        ]
        for version, sock in self.sockets.items():
            args += ["--listen-fd", f"{version}={sock.fileno()}"]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.data_dir / "emulator.log", "ab") as log:  # noqa: ASYNC230 (rare)
                self.process = await asyncio.create_subprocess_exec(
                    *args,
                    env={**os.environ, "SAAS_ODOO_EMULATOR_MASTER_PASSWORD": self._master_password},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    pass_fds=(*(s.fileno() for s in self.sockets.values()), child_end.fileno()),
                    start_new_session=True,
                )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self._launched_at = asyncio.get_running_loop().time()
        reader, self._control = await asyncio.open_connection(sock=parent_end)
        try:
            self.urls = await self._wait_for_report(reader)
        except BaseException:
            await self._terminate()
            raise

    async def _wait_for_report(self, reader: asyncio.StreamReader) -> dict[str, str]:
        assert self.process is not None
        report_line = asyncio.ensure_future(reader.readline())
        exited = asyncio.ensure_future(self.process.wait())
        try:
            await asyncio.wait(
                {report_line, exited},
                timeout=START_TIMEOUT_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            exited.cancel()
            if not report_line.done():
                report_line.cancel()
        log = self.data_dir / "emulator.log"
        line = report_line.result() if report_line.done() and not report_line.cancelled() else b""
        if not line:
            if self.process.returncode is not None:
                raise ConfigurationError(f"The built-in Odoo emulator exited at start; see {log}")
            raise ConfigurationError(f"The built-in Odoo emulator did not start in time; see {log}")
        reported = dict(json.loads(line)["listening"])
        bound = {version: bound_url(sock) for version, sock in self.sockets.items()}
        if reported != bound:
            raise ConfigurationError(
                f"The built-in Odoo emulator serves {reported}, not the addresses it was "
                f"given ({bound}); see {log}"
            )
        return {version: str(url) for version, url in reported.items()}

    async def _register(self) -> None:
        """Register (or update) one host per version with the reported URLs, then resume the
        instances that waited for a host of that version."""
        async with self.runtime.db.transaction() as session:
            service = HostService(session, self.runtime)
            existing = {
                host.odoo_version: host
                for host in (
                    await session.execute(select(OdooHost).where(OdooHost.is_emulator.is_(True)))
                ).scalars()
            }
            for version, url in self.urls.items():
                host = existing.get(version)
                if host is None:
                    host = await service.add(
                        name=host_name(version),
                        url=url,
                        master_password=self._master_password,
                        odoo_version=version,
                        capacity=self.settings.odoo_emulator_capacity,
                        postgres_url=self._postgres_url,
                        is_emulator=True,
                        log_path=str(self.data_dir / ODOO_LOG_FILE_NAME),
                    )
                else:
                    host = await service.update(
                        host,
                        {
                            "url": url,
                            "master_password": self._master_password,
                            "postgres_url": self._postgres_url,
                            "log_path": str(self.data_dir / ODOO_LOG_FILE_NAME),
                        },
                    )
                if host.status == HostStatus.DOWN.value:
                    logger.warning("emulator host %s is down: %s", host.name, host.last_error)
        # Apart from the registration: the hosts are up whether or not resuming succeeds
        # (instances whose provisioning is queued already need nothing more).
        for version in self.urls:
            try:
                async with self.runtime.db.transaction() as session:
                    await instances.resume_waiting(session, self.runtime, version)
            except Exception:
                logger.exception("resuming instances waiting for Odoo %s failed", version)

    async def _mark_down(self, reason: str) -> None:
        async with self.runtime.db.transaction() as session:
            hosts = (
                await session.execute(
                    select(OdooHost).where(OdooHost.is_emulator.is_(True)).with_for_update()
                )
            ).scalars()
            for host in hosts:
                if not host.draining:
                    HOST.apply(host, HostAction.FAIL)
                host.last_error = reason

    async def _supervise(self) -> None:
        """Restart the emulator whenever it exits, its hosts down meanwhile."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            assert self.process is not None
            code = await self.process.wait()
            if self._stopping:
                return
            self._close_control()
            served = loop.time() - self._launched_at
            failures = 0 if served > STABLE_AFTER_SECONDS else failures + 1
            reason = f"The built-in Odoo emulator exited (code {code}); restarting it."
            logger.warning(reason)
            try:
                await self._mark_down(reason)
            except Exception:
                logger.exception("could not mark the built-in emulator's hosts down")
            await asyncio.sleep(restart_delay(failures))
            try:
                await self._launch()
            except Exception:
                # The process is gone (or never started): the next turn tries again.
                logger.exception("restarting the built-in Odoo emulator failed")
                continue
            self.restarts += 1
            logger.info("built-in Odoo emulator restarted on %s", ", ".join(self.urls.values()))
            await self._register_while_running()

    async def _register_while_running(self) -> None:
        """``_register``, retried (the database may be restarting too) while the emulator
        runs: a running emulator is never left behind hosts marked down."""
        for attempt in itertools.count():
            delay = restart_delay(attempt)
            try:
                await self._register()
                return
            except Exception:
                logger.exception("registering the restarted built-in Odoo emulator failed")
            assert self.process is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.process.wait()), timeout=delay)
            if self.process.returncode is not None:
                return

    def _close_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    async def _terminate(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        self._close_control()

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._terminate()
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
