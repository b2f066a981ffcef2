"""Who is calling, kept in memory: an authenticated request normally touches no database.

Per login session (the access token's ``sid``) the cache keeps what authentication needs:
the user's row as the API shows it (every column but the password hash) and whether the
session has ended. A hit costs a dictionary lookup; a miss reads the row with one query on
a small pool of its own, in autocommit, so it never opens the request's transaction.

An entry must not outlive the truth by more than a moment. Three layers see to that:

1. In this process, deterministically. Sessions of the runtime's database note the users
   whose row or login sessions a transaction changed (flushed objects, bulk ``update`` and
   ``delete`` statements, textual SQL naming the tables) and evict them once the
   transaction has committed: not before, or a concurrent request could read the old row
   between the eviction and the commit and put it back.
2. Everywhere else (other API processes, workers, the CLI, raw SQL): triggers on ``users``
   and ``auth_sessions`` (migration 0005) ``NOTIFY saas_auth_changed`` with the user's id;
   one connection per process listens and evicts. Entries are served only while that
   connection is up (a notification missed while it was down would go unnoticed), and
   pending notifications are read, without a round trip, before every hit; while they
   cannot be read (the connection is busy with its ping) the row is read instead.
3. A time to live (``auth_cache_seconds``, measured on the injected clock) bounds whatever
   the first two could miss.

A load that raced with an eviction is not stored: every eviction is stamped with a
counter, and a row read before the last eviction of its user may be the old one.
Everything here runs on one event loop; no locks are needed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import JSON, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.instrumentation import ClassManager
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ColumnElement,
    TextClause,
)

from saas_server.auth.models import AuthSession
from saas_server.core import clock
from saas_server.core.notifications import ChangeListener
from saas_server.core.runtime import Runtime
from saas_server.users.models import User

logger = logging.getLogger(__name__)

CHANNEL = "saas_auth_changed"
# The payload that means "forget everyone" (the TRUNCATE trigger, or an unreadable payload).
EVERYONE: Literal["*"] = "*"
# The tables whose rows an entry is made of, and the column naming the user in each.
USER_COLUMN = {"users": "id", "auth_sessions": "user_id"}
# Never cached: no request needs it, and a copy in memory is one copy too many.
UNCACHED_ATTRIBUTES = ("password_hash",)

MAX_ENTRIES = 10_000
# Evictions remembered to refuse racing loads; an older one refuses every load older than it.
MAX_REMEMBERED_EVICTIONS = 10_000
# Miss-path connections: a miss is one short query, so a few serve a busy process.
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 4

_PENDING = "auth_changed_user_ids"  # session.info key: users to evict after the commit
_CHANGING_SQL = re.compile(r"\b(update|delete|truncate|merge)\b", re.IGNORECASE)
_AUTH_TABLES_SQL = re.compile(r"\b(users|auth_sessions)\b", re.IGNORECASE)

Changed = set[uuid.UUID] | Literal["*"]


@dataclass(frozen=True, slots=True)
class CachedPrincipal:
    """What authenticating a request needs to know about its login session and user."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    session_ended: bool
    # Column attribute -> value: every attribute of ``User`` but UNCACHED_ATTRIBUTES.
    user_values: Mapping[str, Any]
    # When this entry stops being served (not the token's expiry, checked on its own).
    stale_at: datetime
    # The user's identity key, which makes each ``user()`` copy a detached instance.
    identity_key: Any
    # Representations of the user made from this entry (``rendered``), by name.
    renderings: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_active(self) -> bool:
        return bool(self.user_values["is_active"])

    def rendered(self, name: str, render: Callable[[User], bytes]) -> bytes:
        """``render(user)``, made once per entry. An entry is never changed, only replaced
        when its user or session changes, so what was rendered from it is as fresh as it
        is: answering ``GET /auth/me`` from here skips validating and serialising the same
        user on every request."""
        found = self.renderings.get(name)
        if found is None:
            found = self.renderings[name] = render(self.user())
        return found

    def user(self) -> User:
        """A new detached ``User`` per call, so no request can change another's copy (JSON
        values are copied too).

        Reading a missing attribute (the password hash) raises ``DetachedInstanceError``
        rather than answering None: a caller that needs it must load the row.
        """
        columns = _user_columns()
        user: User = columns.manager.new_instance()
        values = user.__dict__
        values.update(self.user_values)
        for key in columns.json_attributes:
            value = values[key]
            if value is not None:
                values[key] = _copy_json(value)
        # What ``make_transient_to_detached`` does, without its per-call introspection
        # (which cost more than the rest of a cache hit): the identity key makes the copy
        # detached, and the attributes not cached are expired, so reading one raises.
        # Nothing is marked modified: the values went into ``__dict__`` past the events.
        state = instance_state(user)
        state.key = self.identity_key
        state.expired_attributes.update(columns.uncached)
        return user


def _copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars): what ``copy.deepcopy`` makes of
    one, several times faster (no memo, no dispatch on types JSON cannot hold)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


@dataclass(frozen=True)
class _UserColumns:
    query: sql.Composed  # the miss-path query
    query_columns: sql.Composed  # its user columns (``u.<column>, ...``)
    attributes: tuple[str, ...]  # the ``User`` attributes its columns fill, in order
    json_attributes: tuple[str, ...]  # those holding mutable JSON values
    uncached: tuple[str, ...]  # the ``User`` column attributes not cached
    manager: ClassManager[User]  # builds ``User`` instances without ``__init__``


@cache
def _user_columns() -> _UserColumns:
    """Built on first use, when every model is mapped."""
    mapper = inspect(User)
    props = [
        prop
        for prop in mapper.column_attrs
        if prop.key not in UNCACHED_ATTRIBUTES and len(prop.columns) == 1
    ]
    query_columns = sql.SQL(", ").join(sql.Identifier("u", prop.columns[0].name) for prop in props)
    return _UserColumns(
        query=sql.SQL(
            "SELECT {}, s.revoked_at IS NOT NULL FROM auth_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.id = %s"
        ).format(query_columns),
        query_columns=query_columns,
        attributes=tuple(prop.key for prop in props),
        json_attributes=tuple(prop.key for prop in props if isinstance(prop.columns[0].type, JSON)),
        uncached=tuple(sorted({prop.key for prop in mapper.column_attrs} - {p.key for p in props})),
        manager=mapper.class_manager,
    )


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    """The columns of an API key that authenticating with it needs (``api_keys``)."""

    id: uuid.UUID
    name: str
    scopes: list[str]
    tenant_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    recent_ips: list[str]


@cache
def _api_key_query() -> sql.Composed:
    columns = [sql.Identifier("k", name) for name in ApiKeyRow.__dataclass_fields__]
    return sql.SQL(
        "SELECT {}, {} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = %s"
    ).format(_user_columns().query_columns, sql.SQL(", ").join(columns))


@cache
def _api_key_by_id_query() -> sql.Composed:
    columns = [sql.Identifier("k", name) for name in ApiKeyRow.__dataclass_fields__]
    return sql.SQL(
        "SELECT {}, {} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = %s"
    ).format(_user_columns().query_columns, sql.SQL(", ").join(columns))


class PrincipalCache:
    """Session id -> :class:`CachedPrincipal`, with the invalidation the module describes."""

    def __init__(
        self, database_url: str, ttl_seconds: float, *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.database_url = database_url
        self.enabled = ttl_seconds > 0
        self.ttl = timedelta(seconds=max(0.0, ttl_seconds))
        self.max_entries = max_entries
        self._entries: dict[uuid.UUID, CachedPrincipal] = {}
        self._sessions_of: dict[uuid.UUID, set[uuid.UUID]] = {}
        # Eviction stamps, to refuse a load that read a row before it was changed.
        self._stamp = itertools.count(1)
        self._last_stamp = 0
        self._cleared_at = 0
        self._evicted_at: OrderedDict[uuid.UUID, int] = OrderedDict()
        self._forgotten_before = 0
        self._pool: AsyncConnectionPool | None = None
        self._pool_lock = asyncio.Lock()
        self.listener = ChangeListener(
            database_url,
            CHANNEL,
            on_change=self._on_notification,
            on_reset=self.clear,
            name="principal cache",
        )
        # Long-lived requests (event streams) of a user, woken when their rights may change.
        self._watchers: dict[uuid.UUID, set[asyncio.Event]] = {}
        # Counters, for tests and diagnostics.
        self.hits = 0
        self.loads = 0

    @property
    def serving(self) -> bool:
        """Whether entries may be served now: only while no change can go unnoticed."""
        return self.enabled and self.listener.listening

    # -- lookups -------------------------------------------------------------------------

    async def get(self, session_id: uuid.UUID) -> CachedPrincipal | None:
        """The principal of ``session_id``, from memory when possible; None if unknown."""
        if self.enabled:
            if self.listener.listening:
                # Changes committed elsewhere that already reached us, before trusting a hit.
                # While the listener is busy (its ping) they cannot be read: then no hit is
                # trusted, or one could outlive a change by as long as the ping takes.
                drained = self.listener.drain()
                found = self._entries.get(session_id)
                if found is not None and drained and self.listener.listening:
                    if found.stale_at > clock.now():
                        self.hits += 1
                        return found
                    self._drop(found)
            else:
                self.listener.start()
        return await self._load(session_id)

    async def _load(self, session_id: uuid.UUID) -> CachedPrincipal | None:
        started_at = self._last_stamp
        read_at = clock.now()  # the TTL counts from before the read, not after
        row = await self._fetch(session_id)
        self.loads += 1
        if row is None:
            return None  # not cached: an unknown session costs a query, as before
        values = dict(zip(_user_columns().attributes, row, strict=False))
        found = CachedPrincipal(
            session_id=session_id,
            user_id=values["id"],
            session_ended=bool(row[-1]),
            user_values=values,
            stale_at=read_at + self.ttl,
            identity_key=inspect(User).identity_key_from_primary_key((values["id"],)),
        )
        if self.serving and not self._evicted_since(found.user_id, started_at):
            self._store(found)
        return found

    async def load_api_key(self, key_hash: str) -> tuple[CachedPrincipal, ApiKeyRow] | None:
        """The user and the key whose hash is ``key_hash``, read now (never served from
        memory: a revoked key must be refused at once on every process, and one indexed
        query is cheap next to what a key's caller then asks for)."""
        return self._key_principal(await self._query(_api_key_query(), (key_hash,)))

    async def load_api_key_by_id(
        self, key_id: uuid.UUID
    ) -> tuple[CachedPrincipal, ApiKeyRow] | None:
        """The key ``key_id`` and its user, read now (an open stream re-checking its key)."""
        return self._key_principal(await self._query(_api_key_by_id_query(), (key_id,)))

    @staticmethod
    def _key_principal(
        row: tuple[Any, ...] | None,
    ) -> tuple[CachedPrincipal, ApiKeyRow] | None:
        """A key query's row (the user's columns, then the key's) as the principal."""
        if row is None:
            return None
        columns = _user_columns()
        count = len(columns.attributes)
        values = dict(zip(columns.attributes, row[:count], strict=True))
        key = ApiKeyRow(*row[count:])
        found = CachedPrincipal(
            session_id=key.id,
            user_id=values["id"],
            session_ended=key.revoked_at is not None,
            user_values=values,
            stale_at=clock.now(),
            identity_key=inspect(User).identity_key_from_primary_key((values["id"],)),
        )
        return found, key

    async def _fetch(self, session_id: uuid.UUID) -> tuple[Any, ...] | None:
        return await self._query(_user_columns().query, (session_id,))

    async def _query(self, query: sql.Composed, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        pool = self._pool or await self._open_pool()
        # A pooled connection the server dropped (restart, idle timeout) fails on first use
        # and the pool discards it. After a restart every pooled connection is such, so up
        # to all of them are tried before a fresh one. Only a broken connection is worth
        # another try: an error on a live one, or a pool timeout, is the answer.
        for attempt in range(POOL_MAX_SIZE + 1):
            async with pool.connection() as conn:
                try:
                    cursor = await conn.execute(query, params)
                    return await cursor.fetchone()
                except psycopg.OperationalError:
                    if not conn.broken or attempt == POOL_MAX_SIZE:
                        raise
        raise AssertionError("unreachable")

    async def _open_pool(self) -> AsyncConnectionPool:
        async with self._pool_lock:
            if self._pool is None:
                pool: AsyncConnectionPool = AsyncConnectionPool(
                    self.database_url,
                    min_size=POOL_MIN_SIZE,
                    max_size=POOL_MAX_SIZE,
                    kwargs={"autocommit": True},
                    name="principal-cache",
                    open=False,
                )
                await pool.open()
                self._pool = pool
            return self._pool

    # -- storage and eviction ------------------------------------------------------------

    def _store(self, found: CachedPrincipal) -> None:
        previous = self._entries.pop(found.session_id, None)
        if previous is not None:
            self._unindex(previous)
        while len(self._entries) >= self.max_entries:
            self._drop(next(iter(self._entries.values())))  # the oldest
        self._entries[found.session_id] = found
        self._sessions_of.setdefault(found.user_id, set()).add(found.session_id)

    def _drop(self, found: CachedPrincipal) -> None:
        if self._entries.get(found.session_id) is found:
            del self._entries[found.session_id]
            self._unindex(found)

    def _unindex(self, found: CachedPrincipal) -> None:
        sessions = self._sessions_of.get(found.user_id)
        if sessions is not None:
            sessions.discard(found.session_id)
            if not sessions:
                del self._sessions_of[found.user_id]

    def evict(self, user_ids: Iterable[uuid.UUID] | Literal["*"]) -> None:
        """Forget these users' sessions (``EVERYONE``: all), and refuse loads that began
        before now from storing them."""
        if user_ids == EVERYONE:
            self.clear()
            return
        for user_id in user_ids:
            self._wake(user_id)
            stamp = self._last_stamp = next(self._stamp)
            self._evicted_at[user_id] = stamp
            self._evicted_at.move_to_end(user_id)
            if len(self._evicted_at) > MAX_REMEMBERED_EVICTIONS:
                _, forgotten = self._evicted_at.popitem(last=False)
                self._forgotten_before = forgotten
            for session_id in self._sessions_of.pop(user_id, ()):
                self._entries.pop(session_id, None)

    def clear(self) -> None:
        for user_id in list(self._watchers):
            self._wake(user_id)
        self._cleared_at = self._last_stamp = next(self._stamp)
        self._evicted_at.clear()
        self._forgotten_before = 0
        self._entries.clear()
        self._sessions_of.clear()

    def _evicted_since(self, user_id: uuid.UUID, stamp: int) -> bool:
        return (
            self._cleared_at > stamp
            or self._forgotten_before > stamp
            or self._evicted_at.get(user_id, 0) > stamp
        )

    def __len__(self) -> int:
        return len(self._entries)

    # -- watchers --------------------------------------------------------------------------

    def watch(self, user_id: uuid.UUID) -> asyncio.Event:
        """An event set whenever ``user_id``'s row, login sessions or API keys may have
        changed, here or in another process (or notifications may have been lost): a
        long-lived request (an event stream) then checks its caller again. Listening starts
        here if it had not yet (a process serving only API keys never read the cache)."""
        self.listener.start()
        woken = asyncio.Event()
        self._watchers.setdefault(user_id, set()).add(woken)
        return woken

    def unwatch(self, user_id: uuid.UUID, woken: asyncio.Event) -> None:
        watchers = self._watchers.get(user_id)
        if watchers is not None:
            watchers.discard(woken)
            if not watchers:
                del self._watchers[user_id]

    def _wake(self, user_id: uuid.UUID) -> None:
        for woken in self._watchers.get(user_id, ()):
            woken.set()

    def _on_notification(self, payload: str) -> None:
        try:
            user_id = uuid.UUID(payload)
        except ValueError:
            self.clear()  # "*", or a payload this version does not understand
            return
        self.evict((user_id,))

    # -- in-process invalidation -----------------------------------------------------------

    def track(self, session_class: type[Session]) -> None:
        """Evict, after each commit of a session of ``session_class``, the users whose row
        or login sessions the transaction changed."""
        event.listen(session_class, "after_flush", self._note_flushed)
        event.listen(session_class, "do_orm_execute", self._note_statement)
        event.listen(session_class, "after_commit", self._evict_committed)
        event.listen(session_class, "after_transaction_end", self._forget_uncommitted)

    def _note_flushed(self, session: Session, _flush_context: object) -> None:
        # In after_flush the dirty and deleted collections still show what was flushed.
        changed: set[uuid.UUID] = set()
        for obj in itertools.chain(session.dirty, session.deleted):
            user_id: uuid.UUID | None
            if isinstance(obj, User):
                identity = inspect(obj).identity
                user_id = identity[0] if identity else None
            elif isinstance(obj, AuthSession):
                user_id = inspect(obj).dict.get("user_id")  # never a lazy load in a flush
            else:
                continue
            if user_id is None:
                _note(session, EVERYONE)
                return
            changed.add(user_id)
        if changed:
            _note(session, changed)

    def _note_statement(self, state: ORMExecuteState) -> None:
        statement = state.statement
        if isinstance(statement, TextClause):
            text = statement.text
            if _CHANGING_SQL.search(text) and _AUTH_TABLES_SQL.search(text):
                _note(state.session, EVERYONE)
            return
        if not (state.is_update or state.is_delete):
            return
        table = getattr(statement, "table", None)
        name = getattr(table, "name", None)
        if table is None or name is None:
            _note(state.session, EVERYONE)  # a form we cannot read: assume the worst
        elif name in USER_COLUMN:
            _note(
                state.session,
                _users_named(getattr(statement, "whereclause", None), name, USER_COLUMN[name]),
            )

    def _evict_committed(self, session: Session) -> None:
        # Also dispatched when a savepoint is released: the outer transaction may yet roll
        # back, and an eviction before its commit could be refilled with the old row.
        if session.in_nested_transaction():
            return
        changed = session.info.pop(_PENDING, None)
        if changed:
            self.evict(changed)

    def _forget_uncommitted(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # a savepoint's rollback keeps the outer notes
            session.info.pop(_PENDING, None)

    # -- lifecycle -------------------------------------------------------------------------

    async def close(self) -> None:
        await self.listener.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        self.clear()


def _note(session: Session, changed: Changed) -> None:
    pending: Changed | None = session.info.get(_PENDING)
    if pending == EVERYONE:
        return
    if changed == EVERYONE or pending is None:
        session.info[_PENDING] = changed if changed == EVERYONE else set(changed)
    else:
        pending.update(changed)


def _users_named(where: ColumnElement[Any] | None, table: str, column: str) -> Changed:
    """The users a bulk statement's WHERE pins down (``column = :id`` or ``column IN
    (...)`` among its top-level ANDs), else EVERYONE."""
    if where is None:
        return EVERYONE
    terms: Collection[Any] = (
        where.clauses
        if isinstance(where, BooleanClauseList) and where.operator is operators.and_
        else (where,)
    )
    for term in terms:
        if not isinstance(term, BinaryExpression) or not isinstance(term.right, BindParameter):
            continue
        left = term.left
        if getattr(left, "name", None) != column:
            continue
        if getattr(getattr(left, "table", None), "name", None) != table:
            continue
        value = term.right.effective_value
        if term.operator is operators.eq:
            values = [value]
        elif term.operator is operators.in_op and isinstance(value, list | tuple | set):
            values = list(value)
        else:
            continue
        try:
            return {v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in values}
        except ValueError:
            return EVERYONE
    return EVERYONE


def build_principal_cache(runtime: Runtime) -> PrincipalCache:
    """The cache of a runtime (its part, ``core.runtime.RuntimeParts``), tracking the
    commits of the runtime's sessions."""
    cache = PrincipalCache(runtime.database_url, runtime.settings.auth_cache_seconds)
    cache.track(runtime.db.session_class)
    return cache


def principal_cache_of(runtime: Runtime) -> PrincipalCache:
    """The runtime's principal cache, as the type this module built it."""
    cache = runtime.principal_cache
    if not isinstance(cache, PrincipalCache):
        raise TypeError(f"the runtime's principal cache is a {type(cache).__name__}")
    return cache
