"""Moving a tenant's database to another host: the move flow, run by a job.

    move: prepare -> precopy -> close_source -> catch_up -> dump -> restore -> verify
          -> switch -> reopen -> drop_source
          a failure before drop_source: back to the source, the move failed (retryable)

``prepare`` names the target copy: the source's own name, unless the target already has
a database of that name (a PostgreSQL both hosts share, or another tenant's): then the
tenant's subdomain (what provisioning names it) or a name of the move's own.

``precopy`` does the slow part while the source still serves (decision 0031): where both
hosts have a PostgreSQL URL, the source's write counters are read (odoo/table_delta.py),
its archive is taken live and restored on the target, and the target copy is logged in to
once (Odoo loads its registry there) and closed again.

``close_source`` refuses logins the way a stop does (no new connections, sessions ended).
After a pre-copy it keeps one session of its own and reads the counters again (every
other session ended, so every write counted) to plan the catch-up.

``catch_up`` copies the tables written since the pre-copy's counters, and brings the
sequences forward, from the closed source into the target copy; ``dump`` and ``restore``
then have nothing to do, and the source stays closed under its name until ``drop_source``.
Without a pre-copy, or when the counters cannot tell (a schema change, new files, a resumed
run that lost them), the plan says why, the source is parked under another name (Odoo's
``db.rename``, which moves its filestore along; a login asks for the tenant's database by
its name, which no longer exists: on a host without SQL access that is what refuses
logins) and opened for ``dump`` alone, and ``dump`` and ``restore`` copy the whole parked
source inside the window, as before. The plan is recorded on the move (``catch_up``).

``verify`` proves the target copy with the instance's admin login, then closes it again
until ``switch`` points the instance at it and ``reopen`` opens it: the logins refused from
``close_source`` to ``reopen`` are the window recorded on the move.

Every step is checkpointed on the move row (``step``). A failure at any step up to
``reopen`` undoes what was done (the target copy dropped, the parked source renamed back and
opened, the instance pointed at the source) and marks the move failed; it starts from the
beginning when retried. Past ``reopen`` the tenant lives on the target: a failed
``drop_source`` leaves it there, and a retry only drops the source copy.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.backups.archive import ZipTailCheck
from saas_server.core import clock
from saas_server.core.errors import AppError
from saas_server.core.flows import RECORDED, Flow, Progress, StepError, StepResult
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.lifecycle import Action as InstanceAction
from saas_server.instances.lifecycle import transition as instance_transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import instance_settled, instance_url
from saas_server.moves.lifecycle import MOVE, MoveAction
from saas_server.moves.models import Move, MoveStatus
from saas_server.odoo import table_delta
from saas_server.odoo.driver import Credentials, OdooDriver
from saas_server.tenants.models import Tenant

logger = logging.getLogger(__name__)


class MoveFailed(AppError):
    status_code = 500
    code = "MOVE_FAILED"
    message = "The move failed"


@dataclass
class MoveContext:
    runtime: Runtime
    move_id: uuid.UUID
    instance_id: uuid.UUID
    source_host_id: uuid.UUID
    target_host_id: uuid.UUID
    source: OdooDriver
    target: OdooDriver
    source_database: str
    parked_database: str
    # Chosen by ``prepare``.
    target_database: str | None
    admin: Credentials
    target_host: OdooHost
    subdomain: str
    workdir: Path
    # When this process closed the source (monotonic): the window is measured from it;
    # a run resumed elsewhere falls back to the recorded timestamps.
    closed_monotonic: float | None = None
    refused_at: datetime | None = None
    # Kept in this process only: a run resumed elsewhere copies the whole database.
    precopy_marks: table_delta.WriteMarks | None = None
    precopy_note: str | None = None
    plan: table_delta.Plan | None = None
    # The one session to the parked source from close_source's reading to catch_up.
    held: psycopg.AsyncConnection[Any] | None = None
    caught_up: bool = False

    @property
    def archive_path(self) -> Path:
        return self.workdir / f"move-{self.move_id}.zip"


def _elapsed_ms(context: MoveContext) -> int | None:
    if context.closed_monotonic is not None:
        return round((time.monotonic() - context.closed_monotonic) * 1000)
    if context.refused_at is not None:
        return round((clock.now() - context.refused_at).total_seconds() * 1000)
    return None


async def _source_parked(context: MoveContext) -> bool:
    return await context.source.database_exists(context.parked_database)


def _target_name(context: MoveContext) -> str:
    assert context.target_database is not None, "prepare runs first"
    return context.target_database


# -- steps -------------------------------------------------------------------------------------


async def prepare(context: MoveContext) -> StepResult:
    """The target copy's name, recorded with the step: one the target has no database of."""
    # The source's name, else the tenant's own (a tenant moved back home gets it back),
    # else one of this move's.
    candidates = dict.fromkeys((context.source_database, context.subdomain))
    name = f"{context.subdomain[:50]}_{context.move_id.hex[:8]}"
    for candidate in candidates:
        if not await context.target.database_exists(candidate):
            name = candidate
            break
    context.target_database = name
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        move.target_database = name
        move.step = "prepare"
    return RECORDED


async def _same_database(first: str, second: str) -> bool:
    """Whether two URLs reach one database (one PostgreSQL both hosts share): the same
    database oid on a server started at the same moment."""
    query = (
        "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()),"
        " pg_postmaster_start_time()"
    )
    answers = []
    for url in (first, second):
        try:
            async with await table_delta.connect(url) as conn:
                answers.append(await (await conn.execute(query)).fetchone())
        except psycopg.OperationalError:
            return False  # one of them does not exist (or is closed): not one database
    return answers[0] == answers[1]


async def _same_as_target(context: MoveContext, name: str) -> bool:
    """Whether ``name`` on the source host is the target copy itself (one PostgreSQL)."""
    if name != context.target_database:
        return False
    source_url = context.source.database_url(name)
    target_url = context.target.database_url(name)
    if source_url is None or target_url is None:
        return True  # cannot tell: never drop it
    return await _same_database(source_url, target_url)


async def _target_copy_is_ours(context: MoveContext) -> bool:
    """Whether the target name is a copy this move may drop, never the live source's
    database (on a PostgreSQL both hosts share, the names could meet)."""
    name = context.target_database
    if name is None:
        return False
    if name != context.source_database or await _source_parked(context):
        return True
    source_url = context.source.database_url(name)
    target_url = context.target.database_url(name)
    if source_url is None or target_url is None:
        return False
    return not await _same_database(source_url, target_url)


async def precopy(context: MoveContext) -> StepResult:
    """While the source serves: its write counters, then its archive restored on the
    target and logged in to there (the registry loaded), closed until the switch. Skipped,
    with the reason kept for the plan, where the counters cannot be read or trusted."""
    name = _target_name(context)
    source_url = context.source.database_url(context.source_database)
    if source_url is None or context.target.database_url(name) is None:
        context.precopy_note = "a host has no PostgreSQL URL"
        return None
    if not await _target_copy_is_ours(context):
        context.precopy_note = "the target name is the source's own database"
        return None
    async with await table_delta.connect(source_url) as conn:
        marks = await table_delta.write_marks(conn)
    if marks is None:
        context.precopy_note = "the source's PostgreSQL cannot count writes (before 15)"
        return None
    await _dump(context, context.source_database)
    await _restore_archive(context)
    await _verify_target(context)
    context.precopy_marks = marks
    return None


async def close_source(context: MoveContext) -> StepResult:
    """Refuse logins on the source (closed, sessions ended); recorded with the moment
    logins stopped. After a pre-copy, every session but one held for the catch-up is ended
    and the write counters read again: when the catch-up can be used the source stays
    closed under its own name (dropped by ``drop_source``). Otherwise it is parked under
    another name, open again for the dump only."""
    source, name, parked = context.source, context.source_database, context.parked_database
    context.closed_monotonic = time.monotonic()
    if context.precopy_marks is not None and await source.database_exists(name):
        await _plan_catch_up(context)
    if context.held is None:
        if await source.database_exists(name):
            if source.can_stop:
                await source.stop(name)
            # The database can be renamed while closed; Odoo moves its filestore along.
            await source.rename(name, parked)
        elif not await _source_parked(context):
            raise MoveFailed(f"The source database {name} is not on its host")
        await source.start(parked)
        if context.plan is None:
            reason = context.precopy_note or "no pre-copy in this run (resumed)"
            context.plan = table_delta.Plan(full_reason=reason)
    refused_at = clock.now()
    context.refused_at = refused_at
    _log_window(context, "close_source")
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        move.logins_refused_at = refused_at
        move.step = "close_source"
    return RECORDED


def _log_window(context: MoveContext, step: str) -> None:
    logger.info(
        "move %s: %s done, logins refused for %s ms", context.move_id, step, _elapsed_ms(context)
    )


async def _plan_catch_up(context: MoveContext) -> None:
    """The source closed with one session held (every other ended, its counts flushed)
    and its counters read again: the plan says what the catch-up copies, or why it cannot.
    The session is kept for the catch-up only when the plan can be followed."""
    assert context.precopy_marks is not None
    url = context.source.database_url(context.source_database)
    maintenance = context.source.database_url("postgres")
    assert url is not None and maintenance is not None, "a pre-copy needs SQL on the source"
    held = await table_delta.connect(url)
    try:
        if not await table_delta.close(held, maintenance):
            context.plan = table_delta.Plan(full_reason="sessions on the source did not end")
        else:
            after = await table_delta.write_marks(held)
            context.plan = (
                table_delta.plan(context.precopy_marks, after)
                if after is not None
                else table_delta.Plan(full_reason="the counters could not be read again")
            )
    except BaseException:
        await held.close()
        raise
    if context.plan.delta:
        context.held = held
    else:
        await held.close()


async def _park(context: MoveContext) -> None:
    source, name, parked = context.source, context.source_database, context.parked_database
    if await source.database_exists(name):
        if source.can_stop:
            await source.stop(name)
        await source.rename(name, parked)
    await source.start(parked)


async def _release_held(context: MoveContext) -> None:
    if context.held is not None:
        await context.held.close()
        context.held = None


async def catch_up(context: MoveContext) -> StepResult:
    """The tables written since the pre-copy, from the closed source into the target copy;
    where that cannot be done the source is parked and the whole database copied by the
    next steps. The plan is recorded on the move."""
    plan = context.plan or table_delta.Plan(full_reason="no pre-copy in this run (resumed)")
    context.plan = plan
    if plan.delta and context.held is not None:
        name = _target_name(context)
        url = context.target.database_url(name)
        assert url is not None
        await context.target.start(name)
        try:
            async with await table_delta.connect(url) as target:
                if "public.ir_attachment" in plan.tables and await table_delta.missing_files(
                    context.held, target
                ):
                    plan.full_reason = "files were added since the pre-copy"
                else:
                    await table_delta.apply(context.held, target, plan.tables)
        except psycopg.Error as exc:
            logger.warning("move %s: catch-up refused: %s", context.move_id, exc)
            plan.full_reason = f"PostgreSQL refused the catch-up: {type(exc).__name__}"
        finally:
            await _release_held(context)
        context.caught_up = plan.delta
    elif plan.delta:
        plan.full_reason = "no pre-copy in this run (resumed)"
    if not plan.delta:  # the whole copy: the source parked, open for the dump
        await _park(context)
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        move.catch_up = {
            "mode": "tables" if plan.delta else "full",
            "tables": plan.tables if plan.delta else [],
            "reason": plan.full_reason,
        }
    _log_window(context, "catch_up")
    return None


async def dump(context: MoveContext) -> StepResult:
    if not context.caught_up:
        await _park(context)  # a run resumed after a catch-up finds it closed, not parked
        await _dump(context, context.parked_database)
    return None


async def _dump(context: MoveContext, database: str) -> None:
    """The source's archive (Odoo's zip) into the work dir, checked whole."""
    await asyncio.to_thread(context.workdir.mkdir, parents=True, exist_ok=True)
    partial = context.archive_path.with_suffix(".part")
    check = ZipTailCheck()
    try:
        with partial.open("wb") as out:
            async for chunk in context.source.dump(database):
                check.feed(chunk)
                await asyncio.to_thread(out.write, chunk)
        check.check()
        partial.replace(context.archive_path)
    finally:
        partial.unlink(missing_ok=True)


async def restore(context: MoveContext) -> StepResult:
    """The archive restored on the target under the target name, kept as it is (``copy``
    false: the same database uuid and secret, as the database moves rather than forks)."""
    if context.caught_up:
        return None
    if not context.archive_path.exists():  # resumed on another worker
        await _dump(context, context.parked_database)
    if not await _source_parked(context):
        # On a PostgreSQL both hosts share, the target name may be the source's own.
        raise MoveFailed("The source database is not parked; nothing is restored")
    await _restore_archive(context)
    return None


async def _restore_archive(context: MoveContext) -> None:
    """The archive in the work dir restored on the target under the target name, over
    any copy there (a pre-copy's, or a restore cut short)."""
    target, name = context.target, _target_name(context)
    if not await target.drop_and_confirm(name):
        raise MoveFailed(f"Odoo did not drop the leftover database {name} on the target")
    with context.archive_path.open("rb") as archive:
        await target.restore(name, archive, copy=False)
    await asyncio.to_thread(context.archive_path.unlink, missing_ok=True)


async def verify(context: MoveContext) -> StepResult:
    await _verify_target(context)
    _log_window(context, "verify")
    return None


async def _verify_target(context: MoveContext) -> None:
    """A login on the target copy with the instance's admin, its address pointed at its
    new home, then closed again until the switch."""
    target, name = context.target, _target_name(context)
    await target.start(name)  # a rerun finds it closed
    uid = await target.authenticate(name, context.admin)
    if uid is None:
        raise MoveFailed("The target copy refuses the instance's admin login")
    caught_up_config = context.caught_up and "public.ir_config_parameter" not in (
        context.plan.tables if context.plan else []
    )
    if context.runtime.settings.base_domain is None and not caught_up_config:
        # Without a domain of our own the address names the host and database: it changes
        # (written by the pre-copy already, unless the catch-up copied the parameters).
        moved = Instance(database_name=name)
        base_url = instance_url(context.runtime, moved, context.target_host, context.subdomain)
        assert base_url is not None
        await target.set_config_parameters(
            name, uid, context.admin.password, {"web.base.url": base_url}
        )
    if target.can_stop:
        await target.stop(name)


async def switch(context: MoveContext) -> StepResult:
    """The instance now lives on the target: host and database, recorded with the step."""
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert move is not None and instance is not None
        instance.host_id = context.target_host_id
        instance.database_name = _target_name(context)
        move.step = "switch"
    return RECORDED


async def reopen(context: MoveContext) -> StepResult:
    """Logins are accepted again, on the target, and the window is written; the step is
    recorded by the runner, after its fault point (until then a failure still goes back)."""
    await context.target.start(_target_name(context))
    reopened_at = clock.now()
    window = _elapsed_ms(context)
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        move.logins_reopened_at = reopened_at
        move.login_refused_ms = window
    return None


async def drop_source(context: MoveContext) -> StepResult:
    """The source copy dropped: parked, or closed under its own name after a catch-up
    (never when that name is the tenant's live database on a PostgreSQL both share)."""
    source = context.source
    if await _source_parked(context):
        name = context.parked_database
    elif await source.database_exists(context.source_database) and not await _same_as_target(
        context, context.source_database
    ):
        name = context.source_database
    else:
        return None
    if not await source.drop_and_confirm(name):
        raise MoveFailed(f"Odoo did not drop the source copy {name}")
    return None


MOVE_FLOW: Flow[MoveContext] = Flow(
    "move",
    (
        prepare,
        precopy,
        close_source,
        catch_up,
        dump,
        restore,
        verify,
        switch,
        reopen,
        drop_source,
    ),
)
MOVE_STEPS = MOVE_FLOW.step_names
# Once reopened on the target, the tenant stays there: a failure after it is not undone.
POINT_OF_NO_RETURN = "reopen"


# -- running -----------------------------------------------------------------------------------


async def run_move(runtime: Runtime, move_id: uuid.UUID) -> Move:
    """Run (or resume) the move ``move_id``; returns its row at the end."""
    async with runtime.db.transaction() as session:
        move = await session.get(Move, move_id, with_for_update=True)
        if move is None:
            raise MoveFailed("No such move")
        if move.status not in (MoveStatus.PENDING.value, MoveStatus.RUNNING.value):
            return move
        instance = await session.get(Instance, move.instance_id)
        source = await session.get(OdooHost, move.source_host_id) if move.source_host_id else None
        target = await session.get(OdooHost, move.target_host_id) if move.target_host_id else None
        tenant = await session.get(Tenant, move.tenant_id)
        if instance is None or source is None or target is None or tenant is None:
            MOVE.apply(move, MoveAction.FAIL)
            move.error = {"code": "MOVE_FAILED", "message": "The instance or a host is gone"}
            move.completed_at = clock.now()
            await _move_ended(
                session, runtime, move, "Move failed before it started: a host is gone"
            )
            return move
        MOVE.apply(move, MoveAction.START)
        move.started_at = move.started_at or clock.now()
        move.attempts += 1
        context = MoveContext(
            runtime=runtime,
            move_id=move.id,
            instance_id=instance.id,
            source_host_id=source.id,
            target_host_id=target.id,
            source=driver_for(runtime, source),
            target=driver_for(runtime, target),
            source_database=move.source_database,
            parked_database=move.parked_database,
            target_database=move.target_database,
            admin=Credentials(
                instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
            ),
            target_host=target,
            subdomain=tenant.subdomain,
            workdir=Path(runtime.settings.data_dir) / "tmp",
            refused_at=move.logins_refused_at,
        )
        done = move.step

    async def record(progress: Progress) -> None:
        async with runtime.db.transaction() as session:
            row = await session.get(Move, move_id, with_for_update=True)
            assert row is not None
            row.step = progress.step

    try:
        try:
            await MOVE_FLOW.run(context, settings=runtime.settings, done=done, record=record)
        except StepError as failed:
            logger.warning("move %s failed at %s: %s", move_id, failed.step, failed.error)
            return await _move_failed(context, failed.step, failed.error)
        return await _move_completed(context)
    finally:
        await _release_held(context)
        await context.source.close()
        await context.target.close()
        context.archive_path.unlink(missing_ok=True)


def _error_of(exc: BaseException, step: str) -> dict[str, Any]:
    if isinstance(exc, AppError):
        return {"code": exc.code, "message": exc.message, "step": step}
    return {"code": "MOVE_FAILED", "message": str(exc) or type(exc).__name__, "step": step}


async def _move_completed(context: MoveContext) -> Move:
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        MOVE.apply(move, MoveAction.COMPLETE)
        move.completed_at = clock.now()
        move.error = None
        await _move_ended(session, context.runtime, move, "Moved to another host")
        await audit.record(
            session,
            action="move.completed",
            resource_type="move",
            resource_id=move.id,
            actor_id=move.requested_by,
            tenant_id=move.tenant_id,
            new_values=move_facts(move),
        )
        await events.emit(
            session, events.TENANT_UPDATED, move_event(move), tenant_id=move.tenant_id
        )
    return move


async def _move_failed(context: MoveContext, step: str, exc: Exception) -> Move:
    """Back to the source unless the tenant is reopened on the target already."""
    error = _error_of(exc, step)
    async with context.runtime.db.sessionmaker() as session:
        move = await session.get(Move, context.move_id)
        assert move is not None
        past_no_return = move.step in (POINT_OF_NO_RETURN, MOVE_FLOW.last)
    await _release_held(context)
    if not past_no_return:
        try:
            await _roll_back(context)
        except Exception as rb_exc:
            logger.exception("rollback of move %s failed", context.move_id)
            error["rollback"] = _error_of(rb_exc, "rollback")
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        MOVE.apply(move, MoveAction.FAIL)
        move.error = error
        move.completed_at = clock.now()
        if not past_no_return:
            move.step = None  # a retry starts from the beginning
            move.logins_reopened_at = clock.now()
            move.login_refused_ms = _elapsed_ms(context)
        where = "on the target host" if past_no_return else "back on the source host"
        await _move_ended(session, context.runtime, move, f"Move failed at {step}; {where}")
        await audit.record(
            session,
            action="move.failed",
            resource_type="move",
            resource_id=move.id,
            actor_id=move.requested_by,
            tenant_id=move.tenant_id,
            new_values=move_facts(move),
        )
    return move


async def _move_ended(session: AsyncSession, runtime: Runtime, move: Move, reason: str) -> None:
    """The instance is ready again wherever the move left it (a retry of the drop alone
    never made it ``moving``), and settled: a tenant suspended while it moved (the
    suspension could not stop an instance in a move) has it stopped here (billing's
    ``instance_settled``), under the row lock the suspension also takes first."""
    instance = await session.get(Instance, move.instance_id, with_for_update=True)
    if instance is not None and instance.status == InstanceStatus.MOVING.value:
        await instance_transition(
            session, instance, InstanceAction.MOVED, reason, actor_id=move.requested_by
        )
        await instance_settled.fire(session, runtime, instance)


async def _roll_back(context: MoveContext) -> None:
    """The instance on the source again, its database under its own name and open; the
    target copy dropped (never when it could be the live source's own database: on a
    PostgreSQL both hosts share, the names could meet)."""
    async with context.runtime.db.transaction() as session:
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert instance is not None
        instance.host_id = context.source_host_id
        instance.database_name = context.source_database
    source, name, parked = context.source, context.source_database, context.parked_database
    if context.target_database is not None and await _target_copy_is_ours(context):
        # A pre-copy makes one while the source still serves under its own name.
        if not await context.target.drop_and_confirm(context.target_database):
            raise MoveFailed(f"Odoo did not drop the target copy {context.target_database}")
    if await _source_parked(context):
        if source.can_stop:
            await source.stop(parked)
        await source.rename(parked, name)
    await source.start(name)
    if await source.authenticate(name, context.admin) is None:
        raise MoveFailed("The source refuses the admin login after the rollback")


def move_facts(move: Move) -> dict[str, Any]:
    return {
        "status": move.status,
        "source_host_id": str(move.source_host_id) if move.source_host_id else None,
        "target_host_id": str(move.target_host_id) if move.target_host_id else None,
        "target_database": move.target_database,
        "login_refused_ms": move.login_refused_ms,
        "catch_up": move.catch_up,
        "error": move.error,
        "reason": move.reason,
    }


def move_event(move: Move) -> dict[str, Any]:
    return {
        "tenant_id": str(move.tenant_id),
        "move_id": str(move.id),
        "instance_id": str(move.instance_id),
        "host_id": str(move.target_host_id) if move.target_host_id else None,
        "status": move.status,
    }
