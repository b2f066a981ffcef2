"""Background jobs on procrastinate, sharing the platform's PostgreSQL.

Jobs are deferred with :func:`defer` on the caller's own SQLAlchemy session, so the job row
is written in the same transaction as the state change it belongs to: both commit or
neither does. Workers are procrastinate workers built by :func:`build_jobs_app`.

A queueing lock means "at most one such job waits": deferring while one waits is a no-op
(the waiting job does the work), never an error, so a restart that re-defers work already
queued (``instances.service.resume_waiting`` at start) succeeds.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import procrastinate
import psycopg
from procrastinate.manager import QUEUEING_LOCK_CONSTRAINT
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from saas_server.core.runtime import Runtime

# Tasks register on this app when their domain's ``tasks`` module is imported (the
# composition root, ``saas_server.wiring``, imports them all); runtimes copy them onto an
# app with a real connector.
jobs_app = procrastinate.App(connector=procrastinate.PsycopgConnector())

_DEFER_SQL = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    ":queue, :task_name, :priority, :lock, :queueing_lock, CAST(:args AS jsonb), :scheduled_at"
    ")::procrastinate_job_to_defer_v1])) AS id"
)
_WAITING_JOB_SQL = text(
    "SELECT id FROM procrastinate_jobs WHERE queueing_lock = :queueing_lock AND status = 'todo'"
)
# A waiting job can be picked up between the conflict and the look-up; then defer again.
_DEFER_ATTEMPTS = 3


async def defer_many(
    session: AsyncSession,
    task_name: str,
    args_list: list[dict[str, Any]],
    *,
    queue: str = "default",
    priority: int = 0,
    locks: Sequence[str | None] | None = None,
) -> list[int]:
    """Enqueue ``task_name`` once per item of ``args_list`` in one statement, inside
    ``session``'s transaction, each with its ``locks`` item (no queueing locks:
    :func:`defer` takes those); the job ids, in order."""
    if task_name not in jobs_app.tasks:
        raise LookupError(f"unknown task {task_name!r} (was the process wired?)")
    if not args_list:
        return []
    rows = ", ".join(
        f"ROW(:queue, :task_name, :priority, CAST(:lock_{i} AS varchar), NULL, "
        f"CAST(:args_{i} AS jsonb), NULL)"
        for i in range(len(args_list))
    )
    params: dict[str, Any] = {"queue": queue, "task_name": task_name, "priority": priority}
    params.update({f"args_{i}": json.dumps(args) for i, args in enumerate(args_list)})
    params.update({f"lock_{i}": (locks[i] if locks else None) for i in range(len(args_list))})
    result = await session.execute(
        text(
            f"SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[{rows}]"
            "::procrastinate_job_to_defer_v1[])) AS id"
        ),
        params,
    )
    return [int(job_id) for job_id in result.scalars()]


def build_jobs_app(database_url: str) -> procrastinate.App:
    return jobs_app.with_connector(procrastinate.PsycopgConnector(conninfo=database_url))


async def defer(
    session: AsyncSession,
    task_name: str,
    *,
    queue: str = "default",
    priority: int = 0,
    lock: str | None = None,
    queueing_lock: str | None = None,
    scheduled_at: datetime | None = None,
    **args: Any,
) -> int:
    """Enqueue ``task_name`` inside ``session``'s transaction and return the job id.

    With a ``queueing_lock`` already held by a waiting job, nothing is added and that job's
    id is returned; the caller's transaction stays usable."""
    if task_name not in jobs_app.tasks:
        raise LookupError(f"unknown task {task_name!r} (was the process wired?)")
    params = {
        "queue": queue,
        "task_name": task_name,
        "priority": priority,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": json.dumps(args),
        "scheduled_at": scheduled_at,
    }
    if queueing_lock is None:
        return int((await session.execute(_DEFER_SQL, params)).scalar_one())
    for _ in range(_DEFER_ATTEMPTS):
        try:
            # A failed INSERT aborts a PostgreSQL transaction: the savepoint confines the
            # conflict to this statement, so the caller's work goes on and commits.
            async with session.begin_nested():
                return int((await session.execute(_DEFER_SQL, params)).scalar_one())
        except IntegrityError as exc:
            if not _is_queueing_lock_conflict(exc):
                raise
        waiting = (
            await session.execute(_WAITING_JOB_SQL, {"queueing_lock": queueing_lock})
        ).scalar_one_or_none()
        if waiting is not None:
            return int(waiting)
    raise RuntimeError(f"could not defer {task_name!r} under queueing lock {queueing_lock!r}")


# A transaction that finds a job waiting under a queueing lock joins it: it holds a shared
# advisory lock on the job's id until it ends, and the job, once started, takes the same lock
# exclusively before it looks for work (:func:`wait_for_joiners`), so it cannot miss that
# transaction's work. (A row lock on the job would make procrastinate's fetch, FOR UPDATE
# SKIP LOCKED, pass over the job while anyone holds it: a steady flow of transactions could
# keep it from ever starting.) Two int4 keys: a key space apart from the one-key locks.
_JOIN_WAITING_SQL = text(
    "SELECT id, pg_try_advisory_xact_lock_shared(hashtext('saas.jobs.joined'),"
    " (id % 2147483647)::int) AS joined"
    " FROM procrastinate_jobs WHERE queueing_lock = :queueing_lock AND status = 'todo'"
)
# Read after the lock is held (a new snapshot): still waiting, so it starts after this.
_STILL_WAITING_SQL = text("SELECT 1 FROM procrastinate_jobs WHERE id = :id AND status = 'todo'")
_JOINERS_SQL = text(
    "SELECT pg_advisory_xact_lock(hashtext('saas.jobs.joined'), (:id % 2147483647)::int)"
)
# Who may add the job under a queueing lock in an open transaction: one at a time, without
# waiting (a second INSERT would wait on the first's uncommitted row in the unique index
# until that transaction ends, and could deadlock with it).
_INSERTER_SQL = text("SELECT pg_try_advisory_xact_lock(hashtext('saas.jobs.' || :queueing_lock))")


async def defer_joining(
    session: AsyncSession, task_name: str, *, queue: str, queueing_lock: str
) -> int:
    """Make sure a ``task_name`` job (no arguments) starts after ``session``'s transaction
    commits, adding one only when none waits under ``queueing_lock``; the job's id.

    For jobs that take whatever work is waiting when they run and call
    :func:`wait_for_joiners` first (decision 0037): a job that waits is joined (it will not
    look for work before this transaction ends); with none waiting, or the waiting one
    starting right now, one is added. When another open transaction is adding one right
    now, this one adds its own job without the queueing lock rather than wait for that
    transaction (two jobs then wait; each takes what it finds)."""
    if task_name not in jobs_app.tasks:
        raise LookupError(f"unknown task {task_name!r} (was the process wired?)")
    # Once per transaction: the job joined or added stays this transaction's until it ends
    # (a transaction recording fifty events asks once, not fifty times). Keyed on the
    # innermost (sub)transaction: a savepoint rolled back undoes its insert and locks.
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    key = ("saas.jobs.defer_joining", queueing_lock)
    known = session.info.get(key)
    if known is not None and transaction is not None and known[0]() is transaction:
        return int(known[1])
    job_id = await _join_or_add(session, task_name, queue, queueing_lock)
    if transaction is not None:
        session.info[key] = (weakref.ref(transaction), job_id)
    return job_id


async def _join_or_add(
    session: AsyncSession, task_name: str, queue: str, queueing_lock: str
) -> int:
    lock = {"queueing_lock": queueing_lock}
    joined = await _join(session, lock)
    if joined is not None:
        return joined
    params = {
        "queue": queue,
        "task_name": task_name,
        "priority": 0,
        "lock": None,
        "queueing_lock": queueing_lock,
        "args": "{}",
        "scheduled_at": None,
    }
    if (await session.execute(_INSERTER_SQL, lock)).scalar_one():
        for _ in range(_DEFER_ATTEMPTS):
            # One may have been committed since the first look.
            joined = await _join(session, lock)
            if joined is not None:
                return joined
            try:
                # With every adder holding the advisory lock, only a job that waits but is
                # starting now, or a stalled job put back in the queue, can conflict: the
                # savepoint keeps the caller's work usable.
                async with session.begin_nested():
                    return int((await session.execute(_DEFER_SQL, params)).scalar_one())
            except IntegrityError as exc:
                if not _is_queueing_lock_conflict(exc):
                    raise
    return int((await session.execute(_DEFER_SQL, params | {"queueing_lock": None})).scalar_one())


async def _join(session: AsyncSession, lock: dict[str, str]) -> int | None:
    """The waiting job's id, joined; None when none waits (or it is starting)."""
    waiting = (await session.execute(_JOIN_WAITING_SQL, lock)).first()
    if waiting is None or not waiting.joined:
        return None
    still = (await session.execute(_STILL_WAITING_SQL, {"id": waiting.id})).first()
    return int(waiting.id) if still is not None else None


async def wait_for_joiners(session: AsyncSession, job_id: int) -> None:
    """In a job deferred by :func:`defer_joining`, before it looks for work: wait until
    every transaction that joined it has ended (its work is then visible)."""
    await session.execute(_JOINERS_SQL, {"id": job_id})


def _is_queueing_lock_conflict(exc: IntegrityError) -> bool:
    return (
        isinstance(exc.orig, psycopg.errors.UniqueViolation)
        and exc.orig.diag.constraint_name == QUEUEING_LOCK_CONSTRAINT
    )


def runtime_of(context: procrastinate.JobContext) -> Runtime:
    """The runtime a worker was started with (see ``Runtime.run_worker``)."""
    runtime: Runtime = context.additional_context["runtime"]
    return runtime
