"""The log is append-only at the database, hash-chained, and `saas audit verify` checks it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from saas_server.audit import service as audit
from saas_server.core.runtime import Runtime
from tests.audit.support import entries
from tests.fixtures.audit import cli_env, record_steps, tamper, verify_cli

__all__ = ["cli_env"]  # the fixture, imported so this module's tests can use it


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET new_values = '{}'::jsonb",
        "UPDATE audit_log SET action = 'x' WHERE false",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_the_database_refuses_to_change_or_remove_entries(
    runtime: Runtime, database_url: str, statement: str
) -> None:
    await record_steps(runtime, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with runtime.db.transaction() as session:
            await session.execute(text(statement))
    # Not even a superuser, unless they switch the trigger off.
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(statement)
    assert len(await entries(runtime)) == 2


async def test_an_entry_rolls_back_with_the_change_it_records(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.db.transaction() as session:
            await audit.record(session, action="test.doomed", resource_type="thing")
            raise RuntimeError("the change failed")
    assert await entries(runtime) == []


async def test_verify_reports_an_intact_chain(runtime: Runtime, cli_env: dict[str, str]) -> None:
    empty = await verify_cli(cli_env)
    assert empty.exit_code == 0, empty.output
    assert "0 entries, chain intact" in empty.output

    await record_steps(runtime, 5)
    result = await verify_cli(cli_env)
    assert result.exit_code == 0, result.output
    assert "5 entries, chain intact" in result.output
    stored = await entries(runtime)
    assert stored[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]


async def test_verify_finds_an_entry_altered_behind_the_triggers_back(
    runtime: Runtime, database_url: str, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 5)
    target = (await entries(runtime))[2]
    tamper(
        database_url,
        "UPDATE audit_log SET new_values = %s WHERE id = %s",
        (json.dumps({"step": 2, "note": "nothing to see"}), target.id),
    )

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output
    assert f"seq {target.seq}" in result.output and str(target.id) in result.output
    assert "altered" in result.output
    assert "Traceback" not in result.output


async def test_verify_finds_a_removed_entry(
    runtime: Runtime, database_url: str, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 5)
    stored = await entries(runtime)
    tamper(database_url, "DELETE FROM audit_log WHERE id = %s", (stored[1].id,))

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output
    # The gap shows at the entry after the removed one.
    assert f"seq {stored[2].seq}" in result.output
    assert "removed" in result.output


async def test_verify_finds_a_forgery_whose_own_hash_was_recomputed(
    runtime: Runtime, database_url: str
) -> None:
    await record_steps(runtime, 4)
    stored = await entries(runtime)
    forged = stored[1]
    fields = {f: getattr(forged, f) for f in audit.HASHED_FIELDS}
    fields["new_values"] = {"step": 1, "note": "rewritten"}
    tamper(
        database_url,
        "UPDATE audit_log SET new_values = %s, hash = %s WHERE id = %s",
        (json.dumps(fields["new_values"]), audit.entry_hash(fields), forged.id),
    )

    async with runtime.db.transaction() as session:
        report = await audit.verify_chain(session)
    assert report.broken is not None
    # The forged entry is self-consistent as far as hashes go; its keyed MAC, which needs the
    # secret key, gives it away.
    assert report.broken.seq == stored[1].seq
    assert "MAC" in report.broken.problem
    assert report.checked == 1


async def test_concurrent_appends_keep_one_intact_chain(runtime: Runtime) -> None:
    async def append(n: int) -> None:
        async with runtime.db.transaction() as session:
            # Every transaction is open and busy before it appends, so they really overlap.
            await session.execute(text("SELECT pg_sleep(0.01)"))
            await audit.record(
                session, action="test.concurrent", resource_type="thing", resource_id=str(n)
            )

    await asyncio.gather(*(append(n) for n in range(20)))

    stored = await entries(runtime)
    assert sorted(int(e.resource_id or -1) for e in stored) == list(range(20))
    assert [e.prev_hash for e in stored] == [audit.GENESIS_HASH] + [e.hash for e in stored[:-1]]
    async with runtime.db.transaction() as session:
        report = await audit.verify_chain(session, batch_size=7)
    assert report.intact and report.checked == 20


async def test_hashes_survive_the_round_trip_of_awkward_values(runtime: Runtime) -> None:
    awkward: dict[str, Any] = {
        "floats": [1e20, 1.0, 0.1, -0.0, 1.5e-7, 1e23, 2.5, 5e-324],
        "ints": [0, -1, 2**70],
        "text": "naïve ☃ \U0001f600 \x00 end",
        "nested": {"b": [{"z": None, "a": True}], "a": {}},
        "when": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "id": uuid.UUID(int=7),
        "amount": Decimal("12.50"),
        "nan": float("nan"),
    }
    async with runtime.db.transaction() as session:
        await audit.record(
            session,
            action="test.awkward",
            resource_type="thing",
            old_values=awkward,
            new_values={"same": awkward},
        )
        await audit.record(session, action="test.after", resource_type="thing")

    async with runtime.db.transaction() as session:
        report = await audit.verify_chain(session)
    assert report.intact and report.checked == 2
    stored = (await entries(runtime, "test.awkward"))[0]
    assert stored.old_values is not None
    assert stored.old_values["text"] == "naïve ☃ \U0001f600 \ufffd end"
    assert stored.old_values["when"] == "2026-01-02T03:04:05.678901Z"
    assert stored.old_values["nan"] == "nan"


async def test_record_many_chains_its_entries_in_order_between_single_ones(
    runtime: Runtime,
) -> None:
    """A batch (renewals) takes the lock once and writes one INSERT, yet the chain is the
    one that recording the entries one by one would have made: every link and MAC verifies,
    and seq follows the order given."""
    async with runtime.db.transaction() as session:
        await audit.record(session, action="test.before", resource_type="thing")
        await audit.record_many(
            session,
            [
                audit.Entry(
                    action="test.batch",
                    resource_type="thing",
                    resource_id=str(n),
                    new_values={"n": n, "password": "never-stored"},
                )
                for n in range(250)
            ],
        )
        await audit.record_many(session, [])  # nothing, no lock taken in vain
        await audit.record(session, action="test.after", resource_type="thing")
    stored = await entries(runtime)
    assert [e.action for e in stored] == ["test.before"] + ["test.batch"] * 250 + ["test.after"]
    assert [e.resource_id for e in stored[1:-1]] == [str(n) for n in range(250)]
    assert [e.prev_hash for e in stored] == [audit.GENESIS_HASH] + [e.hash for e in stored[:-1]]
    assert stored[1].new_values == {"n": 0, "password": "[redacted]"}
    async with runtime.db.transaction() as session:
        report = await audit.verify_chain(session, batch_size=100)
    assert report.intact and report.checked == 252
