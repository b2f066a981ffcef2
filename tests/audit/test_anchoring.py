"""The chain is anchored outside the database: someone with full database access (who can
switch the append-only trigger off) can neither remove the newest entries nor rewrite an entry
and recompute every hash after it without `saas audit verify` noticing."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from saas_server.audit import checkpoints
from saas_server.audit import service as audit
from saas_server.core.runtime import Runtime
from tests.audit.support import entries
from tests.fixtures.audit import cli_env, record_steps, tamper, verify_cli

__all__ = ["cli_env"]  # the fixture, imported so this module's tests can use it


def said(result: object) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(str(getattr(result, "output", "")).split())


def rehash_from(database_url: str, first_seq: int, *, drop_macs: bool) -> None:
    """Recompute every hash (plain sha256, as the database's holder can) from ``first_seq``
    on, so every link and every hash is consistent again."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        try:
            rows = conn.execute(
                "SELECT seq, " + ", ".join(audit.HASHED_FIELDS) + " FROM audit_log ORDER BY seq"
            ).fetchall()
            previous = audit.GENESIS_HASH
            for row in rows:
                fields = dict(zip(("seq", *audit.HASHED_FIELDS), row, strict=True))
                if fields["seq"] >= first_seq:
                    fields["prev_hash"] = previous
                    new_hash = audit.entry_hash(fields)
                    conn.execute(
                        "UPDATE audit_log SET prev_hash = %s, hash = %s"
                        + (", mac = NULL" if drop_macs else "")
                        + " WHERE seq = %s",
                        (previous, new_hash, fields["seq"]),
                    )
                    previous = new_hash
                else:
                    previous = conn.execute(
                        "SELECT hash FROM audit_log WHERE seq = %s", (fields["seq"],)
                    ).fetchone()[0]
        finally:
            conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_verify_finds_the_newest_entries_removed(
    runtime: Runtime, database_url: str, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 5)
    first = await verify_cli(cli_env)  # checkpoints the head
    assert first.exit_code == 0, first.output
    stored = await entries(runtime)

    tamper(database_url, "DELETE FROM audit_log WHERE seq >= %s", (stored[3].seq,))
    # The remaining chain is consistent on its own: only the checkpoint knows better.
    async with runtime.db.transaction() as session:
        assert (await audit.verify_chain(session)).intact

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output
    assert f"seq {stored[4].seq}" in said(result)
    assert "newest entries were removed" in said(result)


async def test_verify_finds_removed_entries_replaced_by_new_ones(
    runtime: Runtime, database_url: str, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 4)
    assert (await verify_cli(cli_env)).exit_code == 0
    stored = await entries(runtime)
    tamper(database_url, "DELETE FROM audit_log WHERE seq = %s", (stored[3].seq,))
    await record_steps(runtime, 1)  # the platform goes on appending after the removal

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output
    assert "removed" in said(result)


@pytest.mark.parametrize("drop_macs", [False, True], ids=["macs-kept", "macs-dropped"])
async def test_verify_finds_an_entry_rewritten_with_every_later_hash_recomputed(
    runtime: Runtime, database_url: str, cli_env: dict[str, str], drop_macs: bool
) -> None:
    await record_steps(runtime, 5)
    stored = await entries(runtime)
    target = stored[2]
    tamper(
        database_url,
        "UPDATE audit_log SET new_values = %s WHERE id = %s",
        (json.dumps({"step": 2, "note": "nothing to see"}), target.id),
    )
    rehash_from(database_url, target.seq, drop_macs=drop_macs)

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output
    assert f"seq {target.seq}" in said(result) and str(target.id) in said(result)
    assert "MAC" in said(result)


async def test_verify_finds_a_whole_chain_rewritten_without_macs_after_a_checkpoint(
    runtime: Runtime, database_url: str, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 3)
    assert (await verify_cli(cli_env)).exit_code == 0
    tamper(database_url, "UPDATE audit_log SET new_values = '{}'::jsonb")
    rehash_from(database_url, 0, drop_macs=True)

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output


async def test_a_forged_checkpoint_line_is_refused(
    runtime: Runtime, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 2)
    assert (await verify_cli(cli_env)).exit_code == 0
    path = checkpoints.checkpoint_path(runtime)
    line = json.loads(path.read_text().splitlines()[-1])
    line["seq"] = 1
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")

    result = await verify_cli(cli_env)
    assert result.exit_code == 1, result.output
    assert "signature" in said(result)


async def test_the_periodic_checkpoint_follows_the_head_and_refuses_a_tampered_one(
    runtime: Runtime, database_url: str
) -> None:
    checkpoint_file = checkpoints.CheckpointFile.of(runtime)
    assert checkpoint_file.path.parent == Path(runtime.settings.data_dir)
    await record_steps(runtime, 3)
    async with runtime.db.transaction() as session:
        assert (await checkpoints.checkpoint(session, checkpoint_file)).broken is None
    await record_steps(runtime, 2)
    async with runtime.db.transaction() as session:
        assert (await checkpoints.checkpoint(session, checkpoint_file)).broken is None
    stored = await entries(runtime)
    assert [(c.seq, c.hash) for c in checkpoint_file.read()] == [
        (stored[2].seq, stored[2].hash),
        (stored[4].seq, stored[4].hash),
    ]

    tamper(database_url, "DELETE FROM audit_log WHERE seq = %s", (stored[4].seq,))
    async with runtime.db.transaction() as session:
        report = await checkpoints.checkpoint(session, checkpoint_file)
    assert report.broken is not None
    assert len(checkpoint_file.read()) == 2  # nothing blessed the tampered head


async def test_entries_from_before_macs_are_accepted_only_as_the_chains_beginning(
    runtime: Runtime, database_url: str, cli_env: dict[str, str]
) -> None:
    await record_steps(runtime, 4)
    stored = await entries(runtime)
    # As migration 0010 leaves the entries written before it.
    tamper(database_url, "UPDATE audit_log SET mac = NULL WHERE seq <= %s", (stored[1].seq,))
    result = await verify_cli(cli_env)
    assert result.exit_code == 0, result.output
    assert "4 entries, chain intact" in said(result)

    # After entries with a MAC (and after a checkpoint), one without is refused.
    tamper(database_url, "UPDATE audit_log SET mac = NULL WHERE seq = %s", (stored[3].seq,))
    again = await verify_cli(cli_env)
    assert again.exit_code == 1, again.output
    assert f"seq {stored[3].seq}" in said(again) and "no MAC" in said(again)
