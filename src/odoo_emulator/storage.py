"""PostgreSQL access: the cluster (list, create, clone, drop) and each database's "registry".

Every emulated Odoo database is a real PostgreSQL database. As Odoo does, the emulator keeps
a per-process registry per database: a small pool of open connections, the cache of checked
credentials and the login-failure counters. Keeping pooled connections open is part of the
behaviour being emulated (section 11.2): a raw ``CREATE DATABASE ... TEMPLATE`` of a database
the emulator has used fails while those connections live, ``duplicate_database`` terminates them
first, and a database closed with ``ALLOW_CONNECTIONS false`` keeps being served by pooled
connections until they are terminated.

All database work is async (psycopg 3), so one slow call does not hold the others up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from odoo_emulator.errors import operational_error

logger = logging.getLogger(__name__)

T = TypeVar("T")

POOL_IDLE_MAX = 4
# Connections in use at once, all databases together (Odoo's ``db_maxconn`` default).
MAX_CONNECTIONS = 64
# Odoo retries a transaction that lost a concurrency race up to 5 times (service/model.py).
MAX_TRIES_ON_CONCURRENCY_FAILURE = 5
CONCURRENCY_ERRORS = (
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.LockNotAvailable,
)


class PostgresCluster:
    """The PostgreSQL server as a whole, reached with the role of ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.user = conninfo_to_dict(url).get("user") or None
        self._server_major: int | None = None

    def conninfo(self, db_name: str) -> str:
        return make_conninfo(self.url, dbname=db_name)

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An autocommit connection to the ``postgres`` database (CREATE/DROP DATABASE)."""
        conn = await psycopg.AsyncConnection.connect(self.conninfo("postgres"), autocommit=True)
        try:
            yield conn
        finally:
            await conn.close()

    async def server_major(self) -> int:
        if self._server_major is None:
            async with self.admin() as conn:
                row = await (await conn.execute("SHOW server_version_num")).fetchone()
                assert row is not None
                self._server_major = int(row[0]) // 10000
        return self._server_major

    async def server_version_num(self) -> int:
        async with self.admin() as conn:
            row = await (await conn.execute("SHOW server_version_num")).fetchone()
            assert row is not None
            return int(row[0])

    async def list_databases(self) -> list[str]:
        """Odoo's ``list_dbs``: databases owned by our role, connectable, not templates, not
        ``postgres`` (sections 2 and 11.1: a database owned by another role or refusing
        connections is left out)."""
        async with self.admin() as conn:
            cur = await conn.execute(
                "SELECT datname FROM pg_database"
                " WHERE datdba = (SELECT usesysid FROM pg_user WHERE usename = current_user)"
                " AND NOT datistemplate AND datallowconn"
                " AND datname NOT IN ('postgres', 'template0', 'template1')"
                " ORDER BY datname"
            )
            return [name for (name,) in await cur.fetchall()]

    async def exists(self, db_name: str) -> bool:
        async with self.admin() as conn:
            cur = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,))
            return await cur.fetchone() is not None

    async def terminate_backends(self, db_name: str) -> None:
        """Odoo's ``_drop_conn``: end every other session on the database."""
        async with self.admin() as conn:
            try:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid != pg_backend_pid()",
                    (db_name,),
                )
            except psycopg.Error:  # Odoo ignores failures here too
                logger.warning("could not terminate the sessions of %s", db_name, exc_info=True)

    async def create_database(self, db_name: str, template: str = "template0") -> None:
        # Odoo: ENCODING 'unicode', C collation only with template0 (section 5).
        collate = sql.SQL("LC_COLLATE 'C'" if template == "template0" else "")
        async with self.admin() as conn:
            await conn.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'unicode' {} TEMPLATE {}").format(
                    sql.Identifier(db_name), collate, sql.Identifier(template)
                )
            )

    async def drop_database(self, db_name: str) -> None:
        async with self.admin() as conn:
            await conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(db_name)))

    async def rename_database(self, old: str, new: str) -> None:
        async with self.admin() as conn:
            await conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(old), sql.Identifier(new)
                )
            )


class ConnectionPool:
    """Idle connections to one database, kept open between calls as Odoo keeps them."""

    def __init__(self, conninfo: str, slots: asyncio.Semaphore) -> None:
        self.conninfo = conninfo
        # Shared by every pool of the process: bounds the connections in use.
        self.slots = slots
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._generation = 0

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo)
        except psycopg.OperationalError as exc:
            raise operational_error(exc) from None
        # Odoo's cursors run in REPEATABLE READ and retry on serialization failures.
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        return conn

    async def acquire(self) -> tuple[psycopg.AsyncConnection[Any], bool, int]:
        """A connection, whether it is fresh, and the pool generation it belongs to."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and not conn.broken:
                return conn, False, self._generation
            await conn.close()
        return await self.connect(), True, self._generation

    async def release(self, conn: psycopg.AsyncConnection[Any], generation: int) -> None:
        reusable = (
            generation == self._generation
            and not conn.closed
            and not conn.broken
            and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            and len(self._idle) < POOL_IDLE_MAX
        )
        if reusable:
            self._idle.append(conn)
        else:
            await conn.close()

    async def close_all(self) -> None:
        """Odoo's ``close_db``: drop idle connections; busy ones close when released."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


@dataclass
class LoginFailures:
    count: int = 0
    last: float = 0.0


@dataclass
class Registry:
    """What Odoo keeps per database and process."""

    name: str
    pool: ConnectionPool
    # res.users.check is ormcached on (uid, password): a successful check is not repeated
    # until the registry cache is cleared (section 11.2).
    credential_cache: set[tuple[int, str]] = field(default_factory=set)
    # _assert_can_auth: failures per source address (login cooldown).
    login_failures: dict[str, LoginFailures] = field(default_factory=dict)
    loaded: bool = False
    # The installed modules (ir.module.module): a model of another module does not exist.
    installed: frozenset[str] = frozenset({"base"})
    load_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def clear_cache(self) -> None:
        """``registry.clear_cache()``: forgets checked credentials (and nothing else here)."""
        self.credential_cache.clear()

    async def run(self, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, as Odoo's ``retrying`` does: committed on success,
        retried on concurrency failures. A pooled connection the server has meanwhile closed
        (terminated backend) is replaced by a fresh one once."""
        async with self.pool.slots:
            return await self._run(work)

    async def _run(self, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        tries = 0
        stale_retry_done = False
        while True:
            tries += 1
            conn, fresh, generation = await self.pool.acquire()
            try:
                async with conn.transaction():
                    result = await work(conn)
                return result
            except CONCURRENCY_ERRORS:
                if tries >= MAX_TRIES_ON_CONCURRENCY_FAILURE:
                    raise
                await asyncio.sleep(random.uniform(0.0, 2**tries) / 10)
            except psycopg.OperationalError as exc:
                if conn.broken and not fresh and not stale_retry_done:
                    stale_retry_done = True
                    continue
                if conn.broken:
                    raise operational_error(exc) from None
                raise
            finally:
                await self.pool.release(conn, generation)


class Registries:
    """The registries of every database this process has served."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self._registries: dict[str, Registry] = {}
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    def get(self, db_name: str) -> Registry:
        registry = self._registries.get(db_name)
        if registry is None:
            pool = ConnectionPool(self.cluster.conninfo(db_name), self._slots)
            registry = Registry(db_name, pool)
            self._registries[db_name] = registry
        return registry

    def peek(self, db_name: str) -> Registry | None:
        return self._registries.get(db_name)

    async def close_db(self, db_name: str) -> None:
        registry = self._registries.get(db_name)
        if registry is not None:
            await registry.pool.close_all()

    async def delete(self, db_name: str) -> None:
        """``Registry.delete``: forget everything about the database (drop, rename)."""
        registry = self._registries.pop(db_name, None)
        if registry is not None:
            await registry.pool.close_all()

    async def close_all(self) -> None:
        for name in list(self._registries):
            await self.delete(name)


def monotonic() -> float:
    return time.monotonic()
