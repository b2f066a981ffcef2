"""Signed checkpoints of the audit chain's head, kept apart from the database.

Whoever can write the database can delete the newest entries (the chain itself stays
consistent: nothing links forward). So the head is written down elsewhere: one JSON line per
checkpoint, ``{"seq", "hash", "at", "sig"}``, appended to a file under the data dir
(``SAAS_AUDIT_CHECKPOINT_FILE``) and signed with an HMAC whose key is derived from the secret
key. ``saas audit verify`` then requires every checkpoint's entry to be present with its
hash, so removing entries, or rewriting and re-hashing them, is found.

A checkpoint is only appended after the entries since the previous one were verified, so a
tampered head is never blessed. Appends take an exclusive ``flock``: several processes on the
same data dir add whole lines, one at a time.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.crypto import derive_key

if TYPE_CHECKING:
    from saas_server.core.runtime import Runtime

logger = logging.getLogger(__name__)

CHECKPOINT_KEY_PURPOSE = "audit_checkpoint_signature"
CHECKPOINT_FILE_NAME = "audit-checkpoints.jsonl"


class CheckpointFileTampered(Exception):
    """A line of the checkpoint file is not one the platform signed."""


@dataclass(frozen=True)
class Checkpoint:
    # None: the chain was empty when the checkpoint was taken.
    seq: int | None
    hash: str
    at: str

    def as_point(self) -> audit.ChainPoint:
        return audit.ChainPoint(self.seq, self.hash)

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at}


def checkpoint_path(runtime: Runtime) -> Path:
    configured = runtime.settings.audit_checkpoint_file
    if configured is not None:
        return configured
    return runtime.settings.data_dir / CHECKPOINT_FILE_NAME


class CheckpointFile:
    def __init__(self, path: Path, secret_key: str) -> None:
        self.path = path
        self._key = derive_key(secret_key, CHECKPOINT_KEY_PURPOSE)

    @classmethod
    def of(cls, runtime: Runtime) -> CheckpointFile:
        return cls(checkpoint_path(runtime), runtime.secret_key)

    def _signature(self, body: dict[str, Any]) -> str:
        message = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def read(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first; raises ``CheckpointFileTampered`` on a line the
        platform did not sign."""
        if not self.path.exists():
            return []
        checkpoints = []
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    checkpoint = Checkpoint(
                        seq=record["seq"], hash=str(record["hash"]), at=str(record["at"])
                    )
                    signature = str(record["sig"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise CheckpointFileTampered(
                        f"line {number} of {self.path} is not a checkpoint"
                    ) from exc
                if not hmac.compare_digest(signature, self._signature(checkpoint.body())):
                    raise CheckpointFileTampered(
                        f"line {number} of {self.path} does not carry the platform's signature"
                    )
                checkpoints.append(checkpoint)
        return checkpoints

    def append(self, point: audit.ChainPoint) -> Checkpoint:
        checkpoint = Checkpoint(point.seq, point.hash, clock.isoformat(clock.now()))
        line = json.dumps({**checkpoint.body(), "sig": self._signature(checkpoint.body())})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return checkpoint


@dataclass(frozen=True)
class AnchoredReport:
    chain: audit.ChainReport
    checkpoints: int
    # Set when the chain itself is intact but ends before a checkpoint's entry.
    truncated: audit.ChainBreak | None = None

    @property
    def broken(self) -> audit.ChainBreak | None:
        return self.chain.broken or self.truncated


def _truncation(
    report: audit.ChainReport, checkpoints: list[Checkpoint]
) -> audit.ChainBreak | None:
    """The newest checkpoint the chain no longer reaches, as a break."""
    last_seq = report.last_seq if report.last_seq is not None else 0
    beyond = [c for c in checkpoints if c.seq is not None and c.seq > last_seq]
    if not beyond:
        return None
    newest = max(beyond, key=lambda c: c.seq or 0)
    return audit.ChainBreak(
        newest.seq or 0,
        None,
        f"the chain ends at seq {report.last_seq}, but the checkpoint of {newest.at} saw "
        f"seq {newest.seq} (hash {newest.hash}); the newest entries were removed",
    )


def _macs_required_after(checkpoints: list[Checkpoint]) -> int | None:
    # Every checkpoint was written by MAC-writing code, so every entry after the first
    # checkpoint must carry a MAC.
    if not checkpoints:
        return None
    return checkpoints[0].seq or 0


async def verify(
    session: AsyncSession,
    checkpoint_file: CheckpointFile,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> AnchoredReport:
    """Walk the whole chain against its MACs and every checkpoint; append a checkpoint of
    the head when everything holds."""
    checkpoints = checkpoint_file.read()
    report = await audit.verify_chain(
        session,
        anchors={c.seq: c.hash for c in checkpoints if c.seq is not None},
        macs_required_after=_macs_required_after(checkpoints),
        on_progress=on_progress,
    )
    anchored = AnchoredReport(report, len(checkpoints), _truncation(report, checkpoints))
    if anchored.broken is None:
        _append_if_moved(checkpoint_file, checkpoints, report)
    return anchored


async def checkpoint(session: AsyncSession, checkpoint_file: CheckpointFile) -> AnchoredReport:
    """Verify the entries since the newest checkpoint and, when they hold, checkpoint the
    head (the periodic job)."""
    checkpoints = checkpoint_file.read()
    newest = checkpoints[-1] if checkpoints else None
    anchors = {newest.seq: newest.hash} if newest is not None and newest.seq is not None else {}
    start: audit.ChainPoint | None = None
    if newest is not None and newest.seq is not None:
        # Start just before the newest checkpoint's entry, so that entry is checked too.
        start = await audit.point_before(session, newest.seq)
        if start is None:
            missing = audit.ChainBreak(
                newest.seq, None, f"the entry of the checkpoint of {newest.at} is gone"
            )
            report = audit.ChainReport(0, None, audit.GENESIS_HASH, missing)
            logger.error("audit chain broken, no checkpoint written: %s", missing.problem)
            return AnchoredReport(report, len(checkpoints))
    report = await audit.verify_chain(
        session,
        after=start,
        anchors=anchors,
        macs_required_after=_macs_required_after(checkpoints),
    )
    anchored = AnchoredReport(report, len(checkpoints), _truncation(report, checkpoints))
    if anchored.broken is None:
        _append_if_moved(checkpoint_file, checkpoints, report)
    else:
        logger.error("audit chain broken, no checkpoint written: %s", anchored.broken.problem)
    return anchored


def _append_if_moved(
    checkpoint_file: CheckpointFile, checkpoints: list[Checkpoint], report: audit.ChainReport
) -> None:
    newest = checkpoints[-1] if checkpoints else None
    if newest is not None and newest.seq == report.last_seq and newest.hash == report.last_hash:
        return
    checkpoint_file.append(audit.ChainPoint(report.last_seq, report.last_hash))
