"""Catching a copied database up with its source, table by table (a tenant move's delta).

A move copies the tenant's database to the target while the source still serves (the
pre-copy), then refuses logins on the source. What was written in between must reach the
target before it takes over. PostgreSQL counts, per table, the rows inserted, updated and
deleted (``pg_stat_all_tables``); the counters read before the pre-copy's dump and again
once the source is closed name the tables written since. Those tables, and only those, are
copied again whole (``DELETE`` then ``COPY``, foreign keys and triggers off for the
session), and every sequence is brought forward: the window of refused logins then costs
what was written during the pre-copy, not the whole database.

The counters are only trusted where they cannot miss a write:

- PostgreSQL 15 or later (shared-memory statistics: a backend's counts are flushed when its
  transaction ends and at the latest when it exits; before 15 they travel over UDP and may
  be lost), with ``track_counts`` on;
- read once every other session of the database has ended (``close`` refuses new ones,
  ends the rest and waits for them to be gone), so every count is flushed;
- a count flushed before the first reading belongs to a transaction that ended before the
  dump's snapshot was taken, so its rows are in the copy; one flushed later is seen as a
  change (a table copied for nothing at worst, never a write missed).

Where they cannot tell, the plan says why and the caller copies the whole database again
(its earlier, slower path): a change to the catalog (a table created, altered, truncated; a
module installed), Odoo's registry signaling moved (its models changed), a table that is
not a plain one, new ``ir_attachment`` rows whose files the copy lacks (files live in the
filestore, out of SQL's reach), or a catch-up that PostgreSQL refuses (``session_replication_
role`` needs a superuser). Odoo's cache signaling sequences are moved past both sides'
values, so the target's Odoo drops whatever it cached of the rows replaced under it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

# Shared-memory statistics: counts are never lost (PostgreSQL 15).
MIN_SERVER_VERSION = 150000
# How long ended sessions get to be gone (and flush their counts).
SESSIONS_GONE_SECONDS = 15.0
# Catalog tables whose rows change without the schema changing (ANALYZE's statistics).
_CATALOG_NOISE = frozenset({"pg_catalog.pg_statistic", "pg_catalog.pg_statistic_ext_data"})
_NOT_COPIED_SCHEMAS = ("pg_toast", "information_schema")
REGISTRY_SIGNALING = "base_registry_signaling"
CACHE_SIGNALING_PREFIX = "base_cache_signaling"


@dataclass(frozen=True)
class WriteMarks:
    """Per table ``schema.name``: (rows inserted, updated, deleted) as counted so far."""

    tables: dict[str, tuple[int, int, int]]
    kinds: dict[str, str]
    registry_signaling: int | None


@dataclass
class Plan:
    """What the catch-up copies, or why the whole database must be copied again."""

    tables: list[str] = field(default_factory=list)
    full_reason: str | None = None

    @property
    def delta(self) -> bool:
        return self.full_reason is None


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def write_marks(conn: psycopg.AsyncConnection[Any]) -> WriteMarks | None:
    """The database's counters as of now; None where they cannot be trusted."""
    row = await (
        await conn.execute(
            "SELECT current_setting('server_version_num')::int, current_setting('track_counts')"
        )
    ).fetchone()
    if row is None or row[0] < MIN_SERVER_VERSION or row[1] != "on":
        return None
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = await (
        await conn.execute(
            "SELECT s.schemaname || '.' || s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_del,"
            " c.relkind FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid"
            # Shared catalogs (pg_database...) are the cluster's: the move's own rename
            # and closing write there.
            " WHERE s.schemaname <> 'pg_toast' AND NOT c.relisshared"
        )
    ).fetchall()
    tables = {name: (int(ins), int(upd), int(dele)) for name, ins, upd, dele, _ in rows}
    kinds = {name: str(kind) for name, _, _, _, kind in rows}
    return WriteMarks(tables, kinds, await _sequence_value(conn, REGISTRY_SIGNALING))


async def _sequence_value(conn: psycopg.AsyncConnection[Any], name: str) -> int | None:
    found = await (await conn.execute("SELECT to_regclass(%s)", (name,))).fetchone()
    if found is None or found[0] is None:
        return None
    row = await (
        await conn.execute(sql.SQL("SELECT last_value FROM {}").format(sql.Identifier(name)))
    ).fetchone()
    return int(row[0]) if row else None


async def close(held: psycopg.AsyncConnection[Any], maintenance_url: str) -> bool:
    """Refuse new sessions to ``held``'s database and end every other one (from a session
    to the maintenance database ``maintenance_url``: a database cannot close itself to
    its own session), then wait until they are gone and their counts flushed; False when
    some outlived ``SESSIONS_GONE_SECONDS``."""
    row = await (await held.execute("SELECT current_database(), pg_backend_pid()")).fetchone()
    assert row is not None
    name, kept = row
    async with await connect(maintenance_url) as conn:
        await conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        deadline = time.monotonic() + SESSIONS_GONE_SECONDS
        while True:
            found = await (
                await conn.execute(
                    "SELECT count(*), count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> %s",
                    (name, kept),
                )
            ).fetchone()
            if found is None or found[0] == 0:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)


def plan(before: WriteMarks, after: WriteMarks) -> Plan:
    """The tables written between the two readings, or why that cannot be caught up."""
    if before.registry_signaling != after.registry_signaling:
        return Plan(full_reason="Odoo's registry changed (a module or field)")
    if before.tables.keys() != after.tables.keys():
        return Plan(full_reason="tables were created or dropped")
    changed = sorted(name for name in after.tables if after.tables[name] != before.tables[name])
    tables: list[str] = []
    for name in changed:
        if name in _CATALOG_NOISE:
            continue
        schema = name.split(".", 1)[0]
        if schema == "pg_catalog" or schema.startswith("pg_temp"):
            return Plan(full_reason=f"the schema changed ({name})")
        if schema in _NOT_COPIED_SCHEMAS:
            continue
        if after.kinds.get(name) != "r":
            return Plan(full_reason=f"{name} is not a plain table")
        tables.append(name)
    return Plan(tables=tables)


async def missing_files(
    source: psycopg.AsyncConnection[Any], target: psycopg.AsyncConnection[Any]
) -> int:
    """How many filestore files the source's attachments name that the target's copy has
    no attachment for (its filestore came with the copy)."""
    query = "SELECT DISTINCT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL"
    have = {row[0] for row in await (await target.execute(query)).fetchall()}
    need = {row[0] for row in await (await source.execute(query)).fetchall()}
    return len(need - have)


def _qualified(name: str) -> sql.Composed:
    schema, table = name.split(".", 1)
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


async def _columns(conn: psycopg.AsyncConnection[Any], name: str) -> sql.Composed:
    rows = await (
        await conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            (str(_qualified(name).as_string(conn)),),
        )
    ).fetchall()
    return sql.SQL(", ").join(sql.Identifier(row[0]) for row in rows)


async def apply(
    source: psycopg.AsyncConnection[Any], target: psycopg.AsyncConnection[Any], tables: list[str]
) -> None:
    """Copy ``tables`` whole from ``source`` to ``target`` and bring every sequence forward,
    in one transaction of the target (all of it or none). Raises ``psycopg.Error`` when
    PostgreSQL refuses (the caller copies the whole database instead)."""
    binary = source.info.server_version // 10000 == target.info.server_version // 10000
    form = sql.SQL("(FORMAT BINARY)" if binary else "(FORMAT TEXT)")
    async with target.transaction():
        # Foreign keys and triggers off: the tables arrive one by one.
        await target.execute("SET LOCAL session_replication_role = replica")
        for name in tables:
            table, columns = _qualified(name), await _columns(source, name)
            await target.execute(sql.SQL("DELETE FROM {}").format(table))
            copy_out = sql.SQL("COPY {} ({}) TO STDOUT {}").format(table, columns, form)
            copy_in = sql.SQL("COPY {} ({}) FROM STDIN {}").format(table, columns, form)
            async with source.cursor().copy(copy_out) as out:
                async with target.cursor().copy(copy_in) as into:
                    async for data in out:
                        await into.write(data)
        await _sequences_forward(source, target)


async def _sequences_forward(
    source: psycopg.AsyncConnection[Any], target: psycopg.AsyncConnection[Any]
) -> None:
    """Each sequence at least where the source has it (ids never reused); Odoo's cache
    signaling past both sides (its caches are dropped); its registry signaling left alone
    (the models are the ones the target loaded: ``plan`` checked it did not move)."""
    query = "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences"
    theirs = {row[0]: row[1] for row in await (await source.execute(query)).fetchall()}
    ours = {row[0]: row[1] for row in await (await target.execute(query)).fetchall()}
    for name, value in theirs.items():
        if name not in ours or name.split(".", 1)[1] == REGISTRY_SIGNALING:
            continue
        current = ours[name]
        if name.split(".", 1)[1].startswith(CACHE_SIGNALING_PREFIX):
            wanted = max(value or 0, current or 0) + 1
        elif value is None or (current is not None and current >= value):
            continue
        else:
            wanted = value
        await target.execute("SELECT setval(%s::regclass, %s, true)", (name, wanted))
