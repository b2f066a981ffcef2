"""Standby databases: a few spare Odoo databases per host, ready to become a tenant's.

Cloning the template is cheap (0.1-0.5 s); what stays on a new tenant's path is the cost
Odoo pays for every admin password: writing it hashes it (pbkdf2-sha512, 600,000 rounds,
about 0.5 s of CPU on this machine) and proving it by a login verifies it (as much again).
A standby database has that done ahead of time: cloned from the template, given its own
generated admin password, and proven by a login. Provisioning claims one (a row lock,
``SKIP LOCKED``), renames it to the tenant's database (``db.rename``, which moves the
filestore folder too), writes the tenant's values and proves the result by a login. The
tenant's admin password is the standby's own unless the tenant chose one, whose hash is
then written at claim time. With no standby left, provisioning clones as before.
See docs/decisions/0003-standby-databases.md.

The pool is tended by one job (``tend``), deferred every ``standby_check_interval_seconds``
and run by one worker at a time (an advisory lock). While a provisioning job is queued or
running it does nothing and looks again shortly: the burst has the CPU. Otherwise it drops
what is no longer wanted (more than the target, draining hosts, standbys of instances
deleted before their rename), then prepares at most one standby and asks to be run again.
Every database it makes is named on a row committed before the database is cloned, so a
worker killed at any step leaves a row that the next run finishes or drops: never a
duplicate, never an orphan. Preparing one is a flow (core/flows.py) whose steps each find
their effect again:

    standby: template -> clone -> password -> verify, then the row is ready
"""

from __future__ import annotations

import enum
import logging
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock, faults
from saas_server.core.errors import AppError
from saas_server.core.flows import Flow, StepError, StepResult, no_record
from saas_server.core.locks import advisory_lock
from saas_server.core.runtime import Runtime
from saas_server.core.schedule import defer_maintenance
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.jobs import TEND_STANDBY_POOLS_TASK
from saas_server.instances.hosts.lifecycle import STANDBY, StandbyAction
from saas_server.instances.hosts.load import instance_counts
from saas_server.instances.hosts.models import (
    HostStatus,
    OdooHost,
    StandbyDatabase,
    StandbyStatus,
)
from saas_server.instances.hosts.templates import (
    TEMPLATE_ADMIN_LOGIN,
    TEMPLATE_LANG,
    clone_template,
    ensure_template,
    known_template_password,
)
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import PROVISION_TASK, generate_admin_password
from saas_server.odoo.driver import Credentials, OdooDriver
from saas_server.odoo.errors import OdooFault

logger = logging.getLogger(__name__)

STANDBY_PREFIX = "saas_standby_"
# One worker tends the pools at a time.
POOL_LOCK = "saas:standby-pools"
# While provisioning jobs run, the pool waits this long before looking again.
BUSY_RETRY_SECONDS = 2.0
USABLE_HOST_STATUSES = (HostStatus.HEALTHY.value, HostStatus.DEGRADED.value)
# Standbys that count against a host's capacity and its pool target.
POOLED = (StandbyStatus.PREPARING.value, StandbyStatus.READY.value)


class StandbyFailed(AppError):
    status_code = 502
    code = "ODOO_UNAVAILABLE"
    message = "The standby database could not be prepared"


class TendResult(enum.Enum):
    DONE = "done"  # nothing left to do
    MORE = "more"  # one standby made; run again now
    LATER = "later"  # provisioning is busy; run again shortly


def standby_name(odoo_version: str, host_id: uuid.UUID) -> str:
    return (
        f"{STANDBY_PREFIX}{odoo_version.replace('.', '_')}_{host_id.hex[:8]}_{secrets.token_hex(4)}"
    )


# -- claiming (provisioning) ---------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedStandby:
    id: uuid.UUID
    database_name: str
    admin: Credentials
    admin_password_encrypted: str


def _claimed(runtime: Runtime, row: StandbyDatabase) -> ClaimedStandby:
    return ClaimedStandby(
        id=row.id,
        database_name=row.database_name,
        admin=Credentials(row.admin_login, runtime.secrets.decrypt(row.admin_password_encrypted)),
        admin_password_encrypted=row.admin_password_encrypted,
    )


async def claimed_by(
    session: AsyncSession, runtime: Runtime, instance_id: uuid.UUID
) -> ClaimedStandby | None:
    row = (
        await session.execute(
            select(StandbyDatabase).where(
                StandbyDatabase.instance_id == instance_id,
                StandbyDatabase.status == StandbyStatus.CLAIMED.value,
            )
        )
    ).scalar_one_or_none()
    return _claimed(runtime, row) if row is not None else None


async def claim(
    session: AsyncSession,
    runtime: Runtime,
    host_id: uuid.UUID,
    odoo_version: str,
    instance_id: uuid.UUID,
) -> ClaimedStandby | None:
    """Take the oldest ready standby of the host for ``instance_id``, in the caller's
    transaction; concurrent claims skip each other's rows instead of waiting."""
    row = (
        await session.execute(
            select(StandbyDatabase)
            .where(
                StandbyDatabase.host_id == host_id,
                StandbyDatabase.odoo_version == odoo_version,
                StandbyDatabase.status == StandbyStatus.READY.value,
            )
            .order_by(StandbyDatabase.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    STANDBY.apply(row, StandbyAction.CLAIM)
    row.instance_id = instance_id
    row.claimed_at = clock.now()
    return _claimed(runtime, row)


async def forget(session: AsyncSession, standby_id: uuid.UUID) -> None:
    """The standby became a tenant's database (or vanished): the pool lets it go."""
    await session.execute(delete(StandbyDatabase).where(StandbyDatabase.id == standby_id))


# -- what the admin API shows --------------------------------------------------------------


async def ready_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(StandbyDatabase.host_id, func.count(StandbyDatabase.id))
        .where(StandbyDatabase.status == StandbyStatus.READY.value)
        .group_by(StandbyDatabase.host_id)
    )
    return {host_id: count for host_id, count in rows.all()}


async def ready_count(session: AsyncSession, host_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count(StandbyDatabase.id)).where(
            StandbyDatabase.host_id == host_id,
            StandbyDatabase.status == StandbyStatus.READY.value,
        )
    )
    return int(result.scalar_one())


# -- tending the pool (the job) ------------------------------------------------------------


async def defer_tend(runtime: Runtime, delay_seconds: float = 0.0) -> None:
    """Queue a run of the pool job (at most one waits)."""
    await defer_maintenance(runtime, TEND_STANDBY_POOLS_TASK, delay_seconds=delay_seconds)


async def tend(runtime: Runtime) -> TendResult:
    if await _provisioning_busy(runtime):
        return TendResult.LATER  # not even the clean-up: provisioning has the CPU first
    async with advisory_lock(runtime.database_url, POOL_LOCK, wait=False) as acquired:
        if not acquired:
            return TendResult.DONE  # another worker is at it
        target = runtime.settings.standby_databases_per_host
        await _mark_unwanted(runtime, target)
        await _drop_marked(runtime)
        if target == 0:
            return TendResult.DONE
        work = await _next_to_prepare(runtime, target)
        if work is None:
            return TendResult.DONE
        host, standby_id, resumed = work
        if await _prepare(runtime, host, standby_id, resumed=resumed):
            return TendResult.MORE
        # Failed (and marked for dropping): the next scheduled run tries again, not at once.
        return TendResult.DONE


async def _provisioning_busy(runtime: Runtime) -> bool:
    """Provisioning has the CPU first: the pool is topped up between bursts."""
    async with runtime.db.sessionmaker() as session:
        found = await session.execute(
            text(
                "SELECT 1 FROM procrastinate_jobs WHERE task_name = :task"
                " AND status IN ('todo', 'doing') AND (scheduled_at IS NULL OR"
                " scheduled_at <= now()) LIMIT 1"
            ),
            {"task": PROVISION_TASK},
        )
        return found.first() is not None


async def _mark_unwanted(runtime: Runtime, target: int) -> None:
    """Mark for dropping: standbys claimed by instances deleted before the rename, spares
    of draining hosts or of another version than the host's, and those above the target."""
    gone = (InstanceStatus.DELETING.value, InstanceStatus.DELETED.value)
    async with runtime.db.transaction() as session:
        orphaned = (
            await session.execute(
                select(StandbyDatabase)
                .outerjoin(Instance, Instance.id == StandbyDatabase.instance_id)
                .where(
                    StandbyDatabase.status == StandbyStatus.CLAIMED.value,
                    or_(Instance.id.is_(None), Instance.status.in_(gone)),
                )
                .with_for_update(of=StandbyDatabase, skip_locked=True)
            )
        ).scalars()
        for row in orphaned:
            STANDBY.apply(row, StandbyAction.DROP)
        hosts = {h.id: h for h in (await session.execute(select(OdooHost))).scalars()}
        spares = (
            await session.execute(
                select(StandbyDatabase)
                .where(StandbyDatabase.status.in_(POOLED))
                .order_by(StandbyDatabase.created_at)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        kept: dict[uuid.UUID, int] = {}
        for row in spares:
            host = hosts.get(row.host_id)
            assert host is not None  # the foreign key cascades
            if host.draining or row.odoo_version != host.odoo_version:
                STANDBY.apply(row, StandbyAction.DROP)
            elif kept.get(host.id, 0) >= target:
                STANDBY.apply(row, StandbyAction.DROP)
            else:
                kept[host.id] = kept.get(host.id, 0) + 1


async def _drop_marked(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(StandbyDatabase, OdooHost)
                .join(OdooHost, OdooHost.id == StandbyDatabase.host_id)
                .where(
                    StandbyDatabase.status == StandbyStatus.DROPPING.value,
                    OdooHost.status != HostStatus.DOWN.value,
                )
            )
        ).all()
    for row, host in rows:
        driver = driver_for(runtime, host)
        try:
            await drop_database(driver, row.database_name)
        except AppError as exc:
            logger.warning("could not drop standby %s: %s", row.database_name, exc.message)
            continue
        finally:
            await driver.close()
        async with runtime.db.transaction() as session:
            await forget(session, row.id)
        logger.info("dropped standby database %s on %s", row.database_name, host.name)


async def drop_database(driver: OdooDriver, name: str) -> None:
    if not await driver.drop_and_confirm(name):
        raise StandbyFailed(f"Odoo did not drop the database {name}")


async def _next_to_prepare(
    runtime: Runtime, target: int
) -> tuple[OdooHost, uuid.UUID, bool] | None:
    """A standby left half made by a killed worker, else a new one on the first usable
    host below its target that has room; None when every pool is full."""
    async with runtime.db.transaction() as session:
        hosts = list(
            (
                await session.execute(
                    select(OdooHost)
                    .where(
                        OdooHost.status.in_(USABLE_HOST_STATUSES),
                        OdooHost.draining.is_(False),
                    )
                    .order_by(OdooHost.is_emulator, OdooHost.name)
                )
            ).scalars()
        )
        if not hosts:
            return None
        by_id = {h.id: h for h in hosts}
        unfinished = (
            await session.execute(
                select(StandbyDatabase)
                .where(
                    StandbyDatabase.status == StandbyStatus.PREPARING.value,
                    StandbyDatabase.host_id.in_(by_id),
                )
                .order_by(StandbyDatabase.created_at)
                .limit(1)
            )
        ).scalar_one_or_none()
        if unfinished is not None:
            return by_id[unfinished.host_id], unfinished.id, True
        pooled = dict(
            (
                await session.execute(
                    select(StandbyDatabase.host_id, func.count(StandbyDatabase.id))
                    .where(StandbyDatabase.status.in_(POOLED))
                    .group_by(StandbyDatabase.host_id)
                )
            ).all()
        )
        loads = await instance_counts(session)
        for host in hosts:
            count = pooled.get(host.id, 0)
            if count >= target or loads.get(host.id, 0) + count >= host.capacity:
                continue
            row = StandbyDatabase(
                host_id=host.id,
                odoo_version=host.odoo_version,
                database_name=standby_name(host.odoo_version, host.id),
                status=StandbyStatus.PREPARING.value,
                admin_login=TEMPLATE_ADMIN_LOGIN,
                admin_password_encrypted=runtime.secrets.encrypt(generate_admin_password()),
            )
            session.add(row)
            await session.flush()
            return host, row.id, False
        return None


@dataclass
class PrepareContext:
    runtime: Runtime
    host: OdooHost
    name: str
    admin: Credentials
    driver: OdooDriver
    template_password: str | None = None
    # Cloned by this run: it still has the template's password.
    fresh: bool = False
    # The standby admin's uid, once a login proved its password.
    uid: int | None = None


async def _template(context: PrepareContext) -> StepResult:
    host = context.host
    context.template_password = await ensure_template(
        context.runtime,
        host,
        context.driver,
        host.odoo_version,
        known_template_password(context.runtime, host),
    )
    return None


async def _clone(context: PrepareContext) -> StepResult:
    if await context.driver.database_exists(context.name):
        return None  # a killed run cloned it
    host = context.host
    # Only a template whose creation is recorded is cloned (hosts/templates.py).
    context.template_password = (
        await clone_template(context.runtime, host, context.driver, host.odoo_version, context.name)
        if context.template_password is not None
        else None
    )
    if context.template_password is None:
        # No usable template: a database of its own, with the standby's admin.
        await context.driver.create(context.name, admin=context.admin, lang=TEMPLATE_LANG)
    context.fresh = True
    return None


async def _password(context: PrepareContext) -> StepResult:
    driver, name, admin = context.driver, context.name, context.admin
    # A fresh clone still has the template's password: skip a login bound to fail
    # (each failed check costs a full pbkdf2 too).
    uid = (
        None
        if context.fresh and context.template_password is not None
        else await driver.authenticate(name, admin)
    )
    if uid is None:
        if context.template_password is None:
            raise StandbyFailed("The standby database refuses its admin login")
        await _set_password(driver, name, context.template_password, admin.password)
    else:  # created with the standby's admin, or a resumed run: freeze the URL too
        await _freeze_base_url(driver, name, uid, admin.password)
    context.uid = uid
    return None


async def _verify(context: PrepareContext) -> StepResult:
    if context.uid is None:
        context.uid = await context.driver.authenticate(context.name, context.admin)
        if context.uid is None:
            raise StandbyFailed("The standby database refuses its new admin password")
    return None


# Each step finds its effect again (the database, the password by a login): a run killed
# anywhere is finished by the next one, which starts from the first step.
PREPARE: Flow[PrepareContext] = Flow("standby", (_template, _clone, _password, _verify))


async def _prepare(
    runtime: Runtime, host: OdooHost, standby_id: uuid.UUID, *, resumed: bool
) -> bool:
    """Prepare the standby ``standby_id`` on ``host`` (the PREPARE flow), then mark it ready."""
    async with runtime.db.sessionmaker() as session:
        row = await session.get(StandbyDatabase, standby_id)
        assert row is not None
        name = row.database_name
        admin = Credentials(row.admin_login, runtime.secrets.decrypt(row.admin_password_encrypted))
    context = PrepareContext(
        runtime=runtime, host=host, name=name, admin=admin, driver=driver_for(runtime, host)
    )
    try:
        await PREPARE.run(context, settings=runtime.settings, done=None, record=no_record)
    except StepError as failed:
        exc = failed.error
        message = exc.message if isinstance(exc, AppError) else str(exc)
        logger.warning("standby %s on %s failed at %s: %s", name, host.name, failed.step, message)
        # Dropped by the next run, which then starts a new one.
        async with runtime.db.transaction() as session:
            row = await session.get(StandbyDatabase, standby_id, with_for_update=True)
            if row is not None and row.status == StandbyStatus.PREPARING.value:
                STANDBY.apply(row, StandbyAction.DROP)
        if not isinstance(exc, AppError | faults.InjectedFault):
            raise exc from None
        return False
    finally:
        await context.driver.close()
    async with runtime.db.transaction() as session:
        row = await session.get(StandbyDatabase, standby_id, with_for_update=True)
        if row is None or row.status != StandbyStatus.PREPARING.value:
            return False  # dropped meanwhile (host removed)
        STANDBY.apply(row, StandbyAction.PREPARED)
        row.admin_uid = context.uid
        row.ready_at = clock.now()
    logger.info(
        "standby database %s ready on %s (%s)", name, host.name, "resumed" if resumed else "new"
    )
    return True


async def _set_password(
    driver: OdooDriver, name: str, template_password: str, password: str
) -> None:
    """In one web session (one password check): freeze the base URL, which a web login
    (such as the one configuring the claimed standby) would overwrite otherwise, then write
    the standby's own admin password. The expensive part, paid here and not on a tenant's
    path: Odoo hashes it. The write ends the session."""
    try:
        await driver.set_password(
            name,
            Credentials(TEMPLATE_ADMIN_LOGIN, template_password),
            password,
            parameters={"web.base.url.freeze": "True"},
        )
    except OdooFault as exc:
        if exc.is_access_denied:
            raise StandbyFailed("The standby database refuses both admin logins") from exc
        raise


async def _freeze_base_url(driver: OdooDriver, name: str, uid: int, password: str) -> None:
    await driver.set_config_parameters(name, uid, password, {"web.base.url.freeze": "True"})


async def drop_for_host(runtime: Runtime, host: OdooHost) -> None:
    """Before a host is removed: drop its spares (best effort; the rows cascade)."""
    async with runtime.db.sessionmaker() as session:
        names = list(
            (
                await session.execute(
                    select(StandbyDatabase.database_name).where(StandbyDatabase.host_id == host.id)
                )
            ).scalars()
        )
    if not names or host.status == HostStatus.DOWN.value:
        return
    driver = driver_for(runtime, host)
    try:
        for name in names:
            try:
                await drop_database(driver, name)
            except AppError as exc:
                logger.warning("could not drop standby %s: %s", name, exc.message)
    finally:
        await driver.close()
