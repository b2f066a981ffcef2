"""The audit trail: who did what to which resource, when and from where.

``record`` appends one entry in the caller's transaction, so a change and its entry commit
(or roll back) together. Entries are append-only (the database refuses UPDATE, DELETE and
TRUNCATE on ``audit_log``) and hash-chained: each entry's ``hash`` is the sha256 of its
canonical form, which includes the previous entry's hash. ``verify_chain`` walks the chain
and finds the first entry altered, removed or inserted behind the application's back.

Action names are dotted and lowercase, ``<resource>.<verb in the past>``:

- ``auth.login``, ``auth.login_failed``, ``auth.login_locked`` (refused during a lockout),
  ``auth.logout``, ``auth.email_verified``, ``auth.password_reset_requested``,
  ``auth.password_reset``, ``auth.password_changed``
- ``user.registered``, ``user.created``, ``user.updated``, ``user.role_changed``,
  ``user.deleted``
- ``tenant.created``, ``tenant.updated``, ``tenant.deleted``,
  ``tenant.ownership_transferred``
- ``member.added``, ``member.role_changed``, ``member.removed``, ``member.invited``,
  ``member.invitation_revoked``, ``member.joined``

Secrets never reach the table: keys naming a password, token, secret or key are redacted at
any depth of ``old_values``/``new_values`` (``SECRET_KEY_PARTS``), and so are passwords
embedded in URLs (``postgresql://user:password@host``).

The chain is anchored outside the database, since whoever can write the table can also
recompute plain hashes (docs/decisions/0006-audit-chain-anchoring.md): each entry also
carries ``mac``, an HMAC of its canonical form and hash keyed by a key derived from the
secret key (which the database never holds), and signed checkpoints of the chain's head are
appended to a file apart from the database (``audit/checkpoints.py``) by a periodic job and
by every ``saas audit verify``. A rewritten entry fails its MAC; removed newest entries leave
a checkpoint pointing past the end.

Appends are serialised by a transaction-level advisory lock taken before the last hash is
read, so concurrent transactions chain one after the other in ``seq`` order. The lock is
held until the caller's transaction ends, so call ``record`` last, once the change's rows
are written: the lock is then held briefly, and a transaction never waits for a row lock
while holding it (which could deadlock with one that holds the row and waits for the lock).
This relies on READ COMMITTED (the default): the statement after the lock sees the
previous holder's committed entry.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit.models import AuditEntry
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.runtime import AUDIT_MAC_KEY

# -- action names --------------------------------------------------------------------------

AUTH_LOGIN = "auth.login"
AUTH_LOGIN_FAILED = "auth.login_failed"
AUTH_LOGIN_LOCKED = "auth.login_locked"
AUTH_LOGOUT = "auth.logout"
AUTH_EMAIL_VERIFIED = "auth.email_verified"
AUTH_PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
AUTH_PASSWORD_RESET = "auth.password_reset"
AUTH_PASSWORD_CHANGED = "auth.password_changed"
USER_REGISTERED = "user.registered"

# -- chain constants -----------------------------------------------------------------------

# The previous hash of the very first entry.
GENESIS_HASH = "0" * 64
# Key of the advisory lock that serialises appends (the migrations lock is 7_277_361_001).
CHAIN_LOCK_ID = 7_277_361_003
# The fields an entry's hash covers: all but seq (the links already fix the chain's order)
# and the hash itself.
HASHED_FIELDS = (
    "action",
    "id",
    "ip_address",
    "new_values",
    "old_values",
    "prev_hash",
    "request_id",
    "resource_id",
    "resource_type",
    "tenant_id",
    "timestamp",
    "user_agent",
    "user_id",
)

# Column widths of values that come from the client (longer ones are cut, never refused:
# an odd header must not fail the change being audited).
_IP_MAX = 64
_REQUEST_ID_MAX = 128
_USER_AGENT_MAX = 1000

# -- scrubbing -----------------------------------------------------------------------------

REDACTED = "[redacted]"
# A key containing any of these (case-insensitive, "-" read as "_") holds a secret.
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "authorization",
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^/\s@]*(?P<tail>@)", re.I)


def is_secret_key(key: str) -> bool:
    normalized = key.lower().replace("-", "_")
    return any(part in normalized for part in SECRET_KEY_PARTS)


def scrub(value: Any) -> Any:
    """``value`` as JSON-ready data with every secret redacted, at any depth.

    UUIDs, dates, enums and decimals become strings; NUL characters (which PostgreSQL's
    jsonb refuses) become U+FFFD; non-finite floats become strings.
    """
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if is_secret_key(str(k)) and v is not None else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _clean_text(_URL_PASSWORD.sub(rf"\g<head>{REDACTED}\g<tail>", value))
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        # jsonb has no NaN or infinities.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return clock.isoformat(_aware(value))
    if isinstance(value, enum.Enum):
        return scrub(value.value)
    if isinstance(value, date | uuid.UUID | Decimal):
        return str(value)
    return _clean_text(str(value))


def _clean_text(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    # Lone surrogates cannot be encoded for the database.
    return value.encode("utf-8", "replace").decode("utf-8")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


# -- hashing -------------------------------------------------------------------------------


def _canonical_json_value(value: Any) -> Any:
    """The form of a JSON value that survives a trip through jsonb unchanged.

    jsonb stores numbers as decimals: the float 1e20 comes back as the integer
    100000000000000000000 and 1.0 as 1.0 or 1 depending on the path. Integral floats are
    therefore hashed as the integer of their shortest decimal form; other floats round-trip
    exactly (jsonb keeps the shortest repr's digits).
    """
    if isinstance(value, dict):
        return {k: _canonical_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_json_value(v) for v in value]
    if isinstance(value, float):
        exact = Decimal(repr(value))
        if exact == exact.to_integral_value():
            return int(exact)
    return value


def _canonical_timestamp(moment: datetime) -> str:
    return _aware(moment).astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _as_is(value: Any) -> Any:
    return value


# How each field that is not already a JSON string or null enters the canonical form.
_CANONICAL_FIELD: dict[str, Callable[[Any], Any]] = {
    "id": str,
    "user_id": _optional_str,
    "tenant_id": _optional_str,
    "timestamp": _canonical_timestamp,
    "old_values": _canonical_json_value,
    "new_values": _canonical_json_value,
}


def canonical_form(fields: Mapping[str, Any] | RowMapping) -> bytes:
    """The bytes an entry's hash covers: its ``HASHED_FIELDS`` as compact, key-sorted JSON.

    Timestamps are UTC with microseconds (``2026-01-01T00:00:00.000000Z``), the precision
    PostgreSQL keeps; ids are lowercase UUID strings. The same values read back from the
    database give the same bytes, which is what lets ``verify_chain`` recompute the hash.
    """
    document = {name: _CANONICAL_FIELD.get(name, _as_is)(fields[name]) for name in HASHED_FIELDS}
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(fields: Mapping[str, Any] | RowMapping) -> str:
    """sha256 (hex) of ``canonical_form(fields)``; ``fields["prev_hash"]`` links the chain."""
    return hashlib.sha256(canonical_form(fields)).hexdigest()


def entry_mac(key: bytes, fields: Mapping[str, Any] | RowMapping) -> str:
    """HMAC-SHA256 (hex) of an entry's canonical form and its ``hash``, keyed by ``key``."""
    message = canonical_form(fields) + b"\n" + str(fields["hash"]).encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def session_mac_key(session: AsyncSession) -> bytes:
    """The MAC key the session's database was opened with (``core.runtime.Runtime``)."""
    key = session.info.get(AUDIT_MAC_KEY)
    if not isinstance(key, bytes):
        raise RuntimeError("this session carries no audit MAC key; open it from a Runtime")
    return key


# -- recording -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One entry for :func:`record_many` (the arguments of :func:`record`)."""

    action: str
    resource_type: str
    resource_id: str | uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    old_values: dict[str, Any] | None = None
    new_values: dict[str, Any] | None = None
    client: ClientInfo | None = None


async def record(
    session: AsyncSession,
    *,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    old_values: dict[str, Any] | None = None,
    new_values: dict[str, Any] | None = None,
    client: ClientInfo | None = None,
) -> None:
    """Append one audit entry in ``session``'s transaction (the change and its entry commit
    together). Secrets and password hashes are never written."""
    await record_many(
        session,
        [
            Entry(
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                actor_id=actor_id,
                tenant_id=tenant_id,
                old_values=old_values,
                new_values=new_values,
                client=client,
            )
        ],
    )


async def record_many(session: AsyncSession, entries: Sequence[Entry]) -> None:
    """Append ``entries`` in this order, in ``session``'s transaction: one lock, one read of
    the chain's head and one INSERT for all of them, each entry chained to the one before
    it exactly as :func:`record` would have chained them one by one."""
    if not entries:
        return
    # Serialise appends until this transaction ends, then read the head of the chain: the
    # read is a new statement, so it sees whatever the previous lock holder committed.
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_ID})
    prev_hash = (
        await session.execute(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))
    ).scalar_one_or_none() or GENESIS_HASH
    mac_key = session_mac_key(session)
    # The database keeps microseconds; the hash must cover exactly what it keeps.
    moment = _aware(clock.now())
    rows: list[dict[str, Any]] = []
    for entry in entries:
        client = entry.client
        fields: dict[str, Any] = {
            "id": uuid.uuid4(),
            "timestamp": moment,
            "user_id": entry.actor_id,
            "tenant_id": entry.tenant_id,
            "action": entry.action,
            "resource_type": entry.resource_type,
            "resource_id": _optional_str(entry.resource_id),
            "old_values": scrub(entry.old_values) if entry.old_values is not None else None,
            "new_values": scrub(entry.new_values) if entry.new_values is not None else None,
            "ip_address": _cut(client.ip, _IP_MAX) if client else None,
            "user_agent": _cut(client.user_agent, _USER_AGENT_MAX) if client else None,
            "request_id": _cut(client.request_id, _REQUEST_ID_MAX) if client else None,
            "prev_hash": prev_hash,
        }
        fields["hash"] = prev_hash = entry_hash(fields)
        fields["mac"] = entry_mac(mac_key, fields)
        rows.append(fields)
    # One executemany, which SQLAlchemy sends as multi-row INSERTs in the rows' order: seq
    # (an identity) follows it, as the chain does.
    await session.execute(insert(AuditEntry), rows)


# -- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """The first entry that does not fit the chain (``id`` is None when it is missing)."""

    seq: int
    id: uuid.UUID | None
    problem: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    last_seq: int | None
    last_hash: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class ChainPoint:
    """A known position of the chain: the entry ``seq`` had ``hash`` (``seq`` None: the
    chain's start)."""

    seq: int | None
    hash: str


async def count_entries(session: AsyncSession, *, after_seq: int | None = None) -> int:
    stmt = select(func.count()).select_from(AuditEntry)
    if after_seq is not None:
        stmt = stmt.where(AuditEntry.seq > after_seq)
    return int((await session.execute(stmt)).scalar_one())


async def point_before(session: AsyncSession, seq: int) -> ChainPoint | None:
    """The chain's position just before the entry ``seq`` (None: no such entry)."""
    prev_hash = (
        await session.execute(select(AuditEntry.prev_hash).where(AuditEntry.seq == seq))
    ).scalar_one_or_none()
    if prev_hash is None:
        return None
    previous_seq = (
        await session.execute(select(func.max(AuditEntry.seq)).where(AuditEntry.seq < seq))
    ).scalar_one_or_none()
    return ChainPoint(previous_seq, prev_hash)


_VERIFIED_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.hash,
    AuditEntry.mac,
    *(getattr(AuditEntry, f) for f in HASHED_FIELDS),
)


async def verify_chain(
    session: AsyncSession,
    *,
    after: ChainPoint | None = None,
    anchors: Mapping[int, str] | None = None,
    macs_required_after: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = 2000,
) -> ChainReport:
    """Walk the chain in ``seq`` order, streaming, and report the first broken link.

    An altered entry no longer matches its own hash or its MAC; a removed, inserted or
    reordered one breaks the next entry's link to its predecessor; an entry rewritten with
    every later hash recomputed fails its MAC, which needs the secret key. ``after`` starts
    the walk past a known point (a checkpoint) instead of the chain's start; ``anchors``
    (seq -> hash, from checkpoints) must match the entries they name. Entries without a MAC
    (written before migration 0010) are accepted only before the first entry with one and
    up to ``macs_required_after``. ``on_progress`` receives the number of entries checked
    since its previous call. Run it in a REPEATABLE READ transaction for one consistent
    snapshot while appends go on.
    """
    mac_key = session_mac_key(session)
    anchors = anchors or {}
    checked = 0
    previous_hash = after.hash if after is not None else GENESIS_HASH
    previous_seq: int | None = after.seq if after is not None else None
    macs_seen = False
    # Anchors are met in seq order; one skipped over names a removed entry.
    anchor_seqs = sorted(seq for seq in anchors if previous_seq is None or seq > previous_seq)
    next_anchor = 0
    stmt = select(*_VERIFIED_COLUMNS).order_by(AuditEntry.seq)
    if previous_seq is not None:
        stmt = stmt.where(AuditEntry.seq > previous_seq)
    # A server-side cursor: the walk holds one batch in memory, whatever the log's size.
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    try:
        async for batch in result.mappings().partitions():
            for row in batch:
                problem = _link_problem(row, previous_seq, previous_hash)
                if problem is None:
                    macs_required = macs_seen or (
                        macs_required_after is not None and row["seq"] > macs_required_after
                    )
                    problem = _mac_problem(row, mac_key, required=macs_required)
                while next_anchor < len(anchor_seqs) and anchor_seqs[next_anchor] <= row["seq"]:
                    if problem is None and anchor_seqs[next_anchor] < row["seq"]:
                        problem = (
                            f"the entry seq {anchor_seqs[next_anchor]} that a checkpoint saw "
                            "is gone; entries were removed"
                        )
                    next_anchor += 1
                if problem is None and anchors.get(row["seq"], row["hash"]) != row["hash"]:
                    problem = (
                        f"hash {row['hash']} differs from the checkpoint's "
                        f"{anchors[row['seq']]}; the entry was rewritten"
                    )
                if problem is not None:
                    broken = ChainBreak(row["seq"], row["id"], problem)
                    return ChainReport(checked, previous_seq, previous_hash, broken)
                macs_seen = macs_seen or row["mac"] is not None
                checked += 1
                previous_hash, previous_seq = row["hash"], row["seq"]
            if on_progress is not None:
                on_progress(len(batch))
    finally:
        await result.close()
    return ChainReport(checked, previous_seq, previous_hash, None)


def _link_problem(row: RowMapping, previous_seq: int | None, previous_hash: str) -> str | None:
    """Why ``row`` does not follow the entry (``previous_seq``, ``previous_hash``), if so."""
    if row["prev_hash"] != previous_hash:
        before = f"seq {previous_seq}" if previous_seq is not None else "the chain's start"
        return (
            f"prev_hash {row['prev_hash']} does not match the hash of the entry before it "
            f"({before}: {previous_hash}); an entry was removed, inserted or reordered"
        )
    recomputed = entry_hash(row)
    if recomputed != row["hash"]:
        return (
            f"stored hash {row['hash']} does not match its content (recomputed {recomputed}); "
            "the entry was altered"
        )
    return None


def _mac_problem(row: RowMapping, mac_key: bytes, *, required: bool) -> str | None:
    if row["mac"] is None:
        if required:
            return "the entry has no MAC; it was written or rewritten without the secret key"
        return None
    if not hmac.compare_digest(row["mac"], entry_mac(mac_key, row)):
        return (
            "its MAC does not match its content; the entry was altered (or forged) by "
            "someone without the secret key"
        )
    return None
