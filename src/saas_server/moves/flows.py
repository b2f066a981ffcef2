"""Moving a tenant's database to another host: the move flow, run by a job.

    move: prepare -> close_source -> dump -> restore -> verify -> switch -> reopen
          -> drop_source
          a failure before drop_source: back to the source, the move failed (retryable)

``prepare`` names the target copy: the source's own name, unless the target already has
a database of that name (a PostgreSQL both hosts share, or another tenant's): then the
tenant's subdomain (what provisioning names it) or a name of the move's own.

``close_source`` refuses logins the way a stop does (``driver.stop``: no new connections,
sessions ended) and then parks the database under another name (Odoo's ``db.rename``,
which moves its filestore along): the dump needs the database open, and a login asks for
the tenant's database by its name, which no longer exists. Nothing can write to it from
there on. ``verify`` proves the target copy with the instance's admin login, then closes it
again until ``switch`` points the instance at it and ``reopen`` opens it: the logins
refused in between are the window recorded on the move.

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
from saas_server.instances.service import instance_url
from saas_server.moves.lifecycle import MOVE, MoveAction
from saas_server.moves.models import Move, MoveStatus
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


async def close_source(context: MoveContext) -> StepResult:
    """Refuse logins on the source (closed, sessions ended), then park it under another
    name, open again for the dump only; recorded with the moment logins stopped."""
    source, name, parked = context.source, context.source_database, context.parked_database
    context.closed_monotonic = time.monotonic()
    if await source.database_exists(name):
        if source.can_stop:
            await source.stop(name)
        # The database can be renamed while closed; Odoo moves its filestore along.
        await source.rename(name, parked)
    elif not await _source_parked(context):
        raise MoveFailed(f"The source database {name} is not on its host")
    await source.start(parked)
    refused_at = clock.now()
    context.refused_at = refused_at
    async with context.runtime.db.transaction() as session:
        move = await session.get(Move, context.move_id, with_for_update=True)
        assert move is not None
        move.logins_refused_at = refused_at
        move.step = "close_source"
    return RECORDED


async def dump(context: MoveContext) -> StepResult:
    await _dump(context)
    return None


async def _dump(context: MoveContext) -> None:
    """The parked source's archive (Odoo's zip) into the work dir, checked whole."""
    await asyncio.to_thread(context.workdir.mkdir, parents=True, exist_ok=True)
    partial = context.archive_path.with_suffix(".part")
    check = ZipTailCheck()
    try:
        with partial.open("wb") as out:
            async for chunk in context.source.dump(context.parked_database):
                check.feed(chunk)
                await asyncio.to_thread(out.write, chunk)
        check.check()
        partial.replace(context.archive_path)
    finally:
        partial.unlink(missing_ok=True)


async def restore(context: MoveContext) -> StepResult:
    """The archive restored on the target under the target name, kept as it is (``copy``
    false: the same database uuid and secret, as the database moves rather than forks)."""
    if not context.archive_path.exists():  # resumed on another worker
        await _dump(context)
    if not await _source_parked(context):
        # On a PostgreSQL both hosts share, the target name may be the source's own.
        raise MoveFailed("The source database is not parked; nothing is restored")
    target, name = context.target, _target_name(context)
    if not await target.drop_and_confirm(name):  # a restore cut short leaves one behind
        raise MoveFailed(f"Odoo did not drop the leftover database {name} on the target")
    with context.archive_path.open("rb") as archive:
        await target.restore(name, archive, copy=False)
    return None


async def verify(context: MoveContext) -> StepResult:
    """A login on the target copy with the instance's admin, its address pointed at its
    new home, then closed again until the switch."""
    target, name = context.target, _target_name(context)
    await target.start(name)  # a rerun finds it closed
    uid = await target.authenticate(name, context.admin)
    if uid is None:
        raise MoveFailed("The target copy refuses the instance's admin login")
    if context.runtime.settings.base_domain is None:
        # Without a domain of our own the address names the host and database: it changes.
        moved = Instance(database_name=name)
        base_url = instance_url(context.runtime, moved, context.target_host, context.subdomain)
        assert base_url is not None
        await target.set_config_parameters(
            name, uid, context.admin.password, {"web.base.url": base_url}
        )
    if target.can_stop:
        await target.stop(name)
    return None


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
    if not await context.source.drop_and_confirm(context.parked_database):
        raise MoveFailed(f"Odoo did not drop the source copy {context.parked_database}")
    return None


MOVE_FLOW: Flow[MoveContext] = Flow(
    "move", (prepare, close_source, dump, restore, verify, switch, reopen, drop_source)
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
            await _move_ended(session, move, "Move failed before it started: a host is gone")
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
        await _move_ended(session, move, "Moved to another host")
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
        await _move_ended(session, move, f"Move failed at {step}; {where}")
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


async def _move_ended(session: AsyncSession, move: Move, reason: str) -> None:
    """The instance is ready again wherever the move left it (a retry of the drop alone
    never made it ``moving``)."""
    instance = await session.get(Instance, move.instance_id, with_for_update=True)
    if instance is not None and instance.status == InstanceStatus.MOVING.value:
        await instance_transition(
            session, instance, InstanceAction.MOVED, reason, actor_id=move.requested_by
        )


async def _roll_back(context: MoveContext) -> None:
    """The instance on the source again, its database under its own name and open; the
    target copy dropped (only while the source is parked: on a PostgreSQL both hosts share,
    the target name may be the live source's)."""
    async with context.runtime.db.transaction() as session:
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert instance is not None
        instance.host_id = context.source_host_id
        instance.database_name = context.source_database
    source, name, parked = context.source, context.source_database, context.parked_database
    if await _source_parked(context) and context.target_database is not None:
        target = context.target
        if not await target.drop_and_confirm(context.target_database):
            raise MoveFailed(f"Odoo did not drop the target copy {context.target_database}")
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
