"""The emulator's process-wide state: settings, PostgreSQL, registries, master password."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from odoo_emulator import addons, passwords, schema
from odoo_emulator.config import EmulatorConfig, MasterPassword
from odoo_emulator.orm.env import Env
from odoo_emulator.pgserver import EmbeddedPostgres, PgTools, find_pg_tools
from odoo_emulator.sessions import SessionStore
from odoo_emulator.storage import PostgresCluster, Registries, Registry
from odoo_emulator.versions import OdooVersion

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RequestInfo:
    """What Odoo's authentication reads from the HTTP request.

    RPC services run without a request (``dispatch_rpc`` unexposes it), so ``remote_addr`` is
    None there and the login cooldown, keyed by client address, does not apply to RPC (as
    observed on 17.0). Web logins give the address, and ``base_location`` (scheme://host of
    the request) for the web.base.url update; RPC callers may pass ``base_location`` in
    ``common.authenticate``'s ``user_agent_env``, which Odoo honours the same way.
    """

    remote_addr: str | None = None
    base_location: str | None = None


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.version: OdooVersion = config.version
        self._embedded: EmbeddedPostgres | None = None
        self.cluster: PostgresCluster | None = None
        self.registries: Registries | None = None
        self.master = MasterPassword(config.config_file)
        self.sessions = SessionStore(config.sessions_dir)
        self._pg_tools: PgTools | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start_sync(self) -> None:
        """Start the embedded PostgreSQL if needed and settle the master password (blocking;
        run before serving)."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.filestore_root.mkdir(parents=True, exist_ok=True)
        url = self.config.postgres_url
        if url is None:
            self._embedded = EmbeddedPostgres(self.config.data_dir / "postgres")
            url = self._embedded.start()
        self.cluster = PostgresCluster(url)
        self.registries = Registries(self.cluster)
        if self.config.master_password:
            self.master.ensure(self.config.master_password)

    async def aclose(self) -> None:
        if self.registries is not None:
            await self.registries.close_all()

    def stop_sync(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    @property
    def pg(self) -> PostgresCluster:
        assert self.cluster is not None, "the emulator is not started"
        return self.cluster

    @property
    def regs(self) -> Registries:
        assert self.registries is not None, "the emulator is not started"
        return self.registries

    async def pg_tools(self) -> PgTools:
        if self._pg_tools is None:
            major = await self.pg.server_major()
            self._pg_tools = await asyncio.to_thread(find_pg_tools, major)
        return self._pg_tools

    # -- databases ------------------------------------------------------------------------------

    async def registry(self, db_name: str) -> Registry:
        """The loaded registry of ``db_name`` (``odoo.registry(db)``): connecting fails with
        psycopg2's OperationalError for an unknown or closed database (section 11.1)."""
        registry = self.regs.get(db_name)
        if not registry.loaded:
            async with registry.load_lock:
                if not registry.loaded:
                    try:
                        await self._load(registry)
                    except BaseException:
                        # Unknown, closed or foreign database: keep no state for it.
                        await self.regs.delete(db_name)
                        raise
                    registry.loaded = True
        return registry

    async def _load(self, registry: Registry) -> None:
        async def find_plaintext(conn: psycopg.AsyncConnection[Any]) -> list[tuple[int, str]]:
            cur = await conn.execute("SELECT to_regclass('res_users') IS NOT NULL")
            row = await cur.fetchone()
            if not row or not row[0]:
                # Not an Odoo database: the registry has no models.
                raise KeyError("res.users")
            return await schema.hash_plaintext_passwords(conn)

        plaintext = await registry.run(find_plaintext)
        registry.installed = await registry.run(self._list_modules)
        if plaintext:
            hashed = [
                (uid, await asyncio.to_thread(passwords.hash_password, pw)) for uid, pw in plaintext
            ]

            async def store(conn: psycopg.AsyncConnection[Any]) -> None:
                for uid, value in hashed:
                    await conn.execute(
                        "UPDATE res_users SET password = %s WHERE id = %s", (value, uid)
                    )

            await registry.run(store)

    async def _list_modules(self, conn: psycopg.AsyncConnection[Any]) -> frozenset[str]:
        """The apps the emulator can install are listed (``update_list``), and the installed
        modules say which models exist."""
        await addons.list_modules(conn, self.version.serie)
        return await addons.installed_modules(conn)

    def env(
        self,
        registry: Registry,
        conn: psycopg.AsyncConnection[Any],
        uid: int,
        context: dict[str, Any] | None = None,
    ) -> Env:
        return Env(
            conn=conn,
            registry=registry,
            version=self.version,
            filestore=self.config.filestore(registry.name),
            uid=uid,
            context=dict(context or {}),
        )

    async def run_as(
        self,
        db_name: str,
        uid: int,
        work: Callable[[Env], Awaitable[T]],
        context: dict[str, Any] | None = None,
    ) -> T:
        """Run ``work`` in one transaction of ``db_name`` as ``uid``."""
        registry = await self.registry(db_name)

        async def in_transaction(conn: psycopg.AsyncConnection[Any]) -> T:
            return await work(self.env(registry, conn, uid, context))

        return await registry.run(in_transaction)
