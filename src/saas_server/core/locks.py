"""Session advisory locks held across slow work (Odoo calls), on a connection of their own.

A transaction-scoped lock (``pg_advisory_xact_lock``) would hold a transaction open for as
long as the work takes; this one needs none, and PostgreSQL releases it with the connection
if the process dies.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg


@asynccontextmanager
async def advisory_lock(
    database_url: str, name: str, *, wait: bool = True, shared: bool = False
) -> AsyncIterator[bool]:
    """Hold the lock named ``name`` inside the block. With ``wait=False`` it is only tried:
    the block gets False, and holds nothing, when another session has it. ``shared``
    holders exclude only the exclusive one (readers of what it writes)."""
    key = zlib.crc32(name.encode())
    suffix = "_shared" if shared else ""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        if wait:
            await conn.execute(f"SELECT pg_advisory_lock{suffix}(%s)", (key,))
            taken = True
        else:
            row = await (
                await conn.execute(f"SELECT pg_try_advisory_lock{suffix}(%s)", (key,))
            ).fetchone()
            taken = bool(row and row[0])
        try:
            yield taken
        finally:
            if taken:
                await conn.execute(f"SELECT pg_advisory_unlock{suffix}(%s)", (key,))
