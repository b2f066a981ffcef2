"""Long instance operations as flows of named, idempotent, checkpointed steps.

Each step first checks whether its effect is already there, so a job killed at any point
is finished by the next worker with no duplicate database and no orphan. After a step
succeeds, ``instance.step`` records it in its own transaction; a rerun starts after it.
A step that fails for good marks the instance failed with the step's name and the reason
(``PROVISIONING_FAILED``); ``retry`` resumes from the last completed step.

    provision: choose_host -> claim_standby -> ensure_template -> create_database
               -> configure -> verify
    delete:    close -> pre_delete_backup -> drop_database -> purge

Provisioning takes a standby database of the host when one is ready (hosts/standby.py):
``create_database`` then renames it instead of cloning the template, and ``configure``
writes no password hash unless the tenant chose its own password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.core import clock, faults
from saas_platform.core.crypto import derive_key
from saas_platform.core.errors import AppError
from saas_platform.core.runtime import Runtime
from saas_platform.events import service as events
from saas_platform.instances.hosts import standby, templates
from saas_platform.instances.hosts.models import OdooHost
from saas_platform.instances.hosts.service import HostService, driver_for
from saas_platform.instances.lifecycle import Action, transition
from saas_platform.instances.models import Instance, InstanceStatus
from saas_platform.instances.service import instance_url
from saas_platform.odoo.driver import Credentials, DatabaseSetup, OdooDriver
from saas_platform.odoo.errors import OdooFault
from saas_platform.tenants.models import Tenant, TenantStatus
from saas_platform.tenants.tiers import TIERS

logger = logging.getLogger(__name__)

PROVISION_STEPS = (
    "choose_host",
    "claim_standby",
    "ensure_template",
    "create_database",
    "configure",
    "verify",
)


@dataclass
class ProvisionContext:
    runtime: Runtime
    instance_id: uuid.UUID
    host: OdooHost
    driver: OdooDriver
    database: str
    odoo_version: str
    admin: Credentials
    company_name: str
    subdomain: str
    lang: str
    timezone: str
    tier: str
    expires_at: Any
    base_url: str
    template_password: str | None = None
    # The last step completed when this run started.
    done_step: str = "choose_host"
    # The standby database this instance claimed, until it is ready.
    standby: standby.ClaimedStandby | None = None


class StepFailed(AppError):
    status_code = 500
    code = "PROVISIONING_FAILED"
    message = "Provisioning failed"


# -- provisioning -------------------------------------------------------------------------------


async def provision(runtime: Runtime, instance_id: uuid.UUID) -> None:
    context = await _start_provisioning(runtime, instance_id)
    if context is None:
        return
    step = "choose_host"
    try:
        done = PROVISION_STEPS.index(context.done_step)
        for step in PROVISION_STEPS[done + 1 :]:
            await faults.checkpoint(runtime.settings, f"provision.{step}")
            recorded = await STEPS[step](context)
            # A step that changed nothing (or recorded itself) needs no checkpoint, nor does
            # the last one: _finish_provisioning records it with the state change.
            if recorded is None and step != PROVISION_STEPS[-1]:
                await _checkpoint(runtime, instance_id, step)
        await _finish_provisioning(runtime, context)
    except Exception as exc:  # every failure is recorded on the instance, then retryable
        await _fail_provisioning(runtime, instance_id, step, exc)
        if not isinstance(exc, AppError | faults.InjectedFault):
            logger.exception("provisioning step %s failed", step)
    finally:
        await context.driver.close()


async def _start_provisioning(runtime: Runtime, instance_id: uuid.UUID) -> ProvisionContext | None:
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id, with_for_update=True)
        if instance is None or instance.status not in (
            InstanceStatus.PENDING.value,
            InstanceStatus.PROVISIONING.value,
        ):
            return None
        tenant = await session.get(Tenant, instance.tenant_id)
        assert tenant is not None
        host: OdooHost | None
        if instance.host_id is None:
            host = await HostService(session, runtime).pick(instance.odoo_version)
            if host is None:
                reason = f"No healthy Odoo {instance.odoo_version} host with room; waiting for one"
                if instance.status_reason != reason:
                    await transition(session, instance, Action.WAIT, reason)
                return None
            instance.host_id = host.id
        else:
            host = await session.get(OdooHost, instance.host_id)
            assert host is not None
        if instance.status == InstanceStatus.PENDING.value:
            await transition(session, instance, Action.PROVISION, f"Provisioning on {host.name}")
            instance.flow = "provision"
        if instance.step not in PROVISION_STEPS:
            instance.step = "choose_host"
        if PROVISION_STEPS.index(instance.step) < PROVISION_STEPS.index("claim_standby"):
            claimed = await _claim_standby(session, runtime, instance, host)
        else:  # a claim is recorded with the claim_standby step
            claimed = await standby.claimed_by(session, runtime, instance.id)
        admin = Credentials(
            instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
        )
        return ProvisionContext(
            runtime=runtime,
            instance_id=instance.id,
            host=host,
            driver=driver_for(runtime, host),
            database=instance.database_name,
            odoo_version=instance.odoo_version,
            admin=admin,
            company_name=tenant.name,
            subdomain=tenant.subdomain,
            lang=instance.lang,
            timezone=instance.timezone,
            tier=tenant.tier,
            expires_at=instance.expires_at,
            base_url=_base_url(runtime, instance, host, tenant.subdomain),
            template_password=templates.known_template_password(runtime, host),
            done_step=instance.step,
            standby=claimed,
        )


async def _claim_standby(
    session: AsyncSession, runtime: Runtime, instance: Instance, host: OdooHost
) -> standby.ClaimedStandby | None:
    """The claim_standby step, in the transaction that chose the host: take a ready standby
    database of the host if the pool has one. A generated admin password becomes the
    standby's (already hashed and proven); one the tenant chose is written by ``configure``.
    Either way the password is final from here on, and the step is recorded with it."""
    claimed = None
    if runtime.settings.standby_databases_per_host > 0:
        claimed = await standby.claim(session, runtime, host.id, instance.odoo_version, instance.id)
    if claimed is not None and instance.admin_password_provisional:
        instance.admin_password_encrypted = claimed.admin_password_encrypted
    instance.admin_password_provisional = False
    instance.step = "claim_standby"
    return claimed


def _base_url(runtime: Runtime, instance: Instance, host: OdooHost, subdomain: str) -> str:
    url = instance_url(runtime, instance, host, subdomain) or host.url
    return url.split("/web?", 1)[0]


_INSTANCES = cast(Table, Instance.__table__)


async def _checkpoint(runtime: Runtime, instance_id: uuid.UUID, step: str) -> None:
    # A Core statement: the ORM's bulk-update bookkeeping costs more than the UPDATE.
    async with runtime.db.transaction() as session:
        await session.execute(
            update(_INSTANCES).where(_INSTANCES.c.id == instance_id).values(step=step)
        )


async def _finish_provisioning(runtime: Runtime, context: ProvisionContext) -> None:
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert instance is not None
        await transition(session, instance, Action.SUCCEED, "Provisioned and verified by a login")
        instance.step = PROVISION_STEPS[-1]
        instance.ready_at = clock.now()
        instance.error = None
        instance.flow = None
        if context.standby is not None:
            await standby.forget(session, context.standby.id)
        await events.emit(
            session,
            events.TENANT_READY,
            {
                "tenant_id": str(instance.tenant_id),
                "instance_id": str(instance.id),
                "url": instance_url(runtime, instance, context.host, context.subdomain),
                "database": instance.database_name,
                "odoo_version": instance.odoo_version,
                "admin_login": instance.admin_login,
            },
            tenant_id=instance.tenant_id,
        )


async def _fail_provisioning(
    runtime: Runtime, instance_id: uuid.UUID, step: str, exc: Exception
) -> None:
    message = exc.message if isinstance(exc, AppError) else str(exc) or type(exc).__name__
    details = exc.details if isinstance(exc, AppError) else {}
    reason = f"Step {step} failed: {message}"
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id, with_for_update=True)
        if instance is None or instance.status != InstanceStatus.PROVISIONING.value:
            return
        await transition(session, instance, Action.FAIL, reason)
        instance.error = {
            "code": "PROVISIONING_FAILED",
            "step": step,
            "message": message,
            **({"odoo_error": details["odoo_error"]} if "odoo_error" in details else {}),
        }
        await events.emit(
            session,
            events.TENANT_PROVISIONING_FAILED,
            {
                "tenant_id": str(instance.tenant_id),
                "instance_id": str(instance.id),
                "step": step,
                "reason": message,
            },
            tenant_id=instance.tenant_id,
        )


# -- the steps -----------------------------------------------------------------------------------


async def choose_host(context: ProvisionContext) -> bool:
    """Done in _start_provisioning, inside the transaction that locks the host rows."""
    return False


async def claim_standby(context: ProvisionContext) -> bool:
    """Done in _start_provisioning, in the transaction that chose the host."""
    return False


async def ensure_template(context: ProvisionContext) -> bool | None:
    """Create the host's warm template for this version on first use (not needed with a
    standby). Failure here is not fatal: create_database falls back to creating it."""
    if context.standby is not None:
        return False
    context.template_password = await templates.ensure_template(
        context.runtime,
        context.host,
        context.driver,
        context.odoo_version,
        context.template_password,
    )
    return None


async def create_database(context: ProvisionContext) -> None:
    if context.standby is not None:
        name = context.standby.database_name
        try:
            await context.driver.rename(name, context.database)
            return
        except OdooFault:
            if await context.driver.database_exists(name):
                raise  # the standby is intact: the rename itself failed (name taken?)
        if await context.driver.database_exists(context.database):
            return  # renamed by a run that was killed before its checkpoint
        # The standby is gone (dropped by hand?): let it go and clone as without one.
        logger.warning("standby %s vanished; cloning for %s", name, context.database)
        async with context.runtime.db.transaction() as session:
            await standby.forget(session, context.standby.id)
        context.standby = None
        await ensure_template(context)
    elif await context.driver.database_exists(context.database):
        return  # a previous run got this far
    # Only a template whose creation is recorded is cloned (hosts/templates.py); without
    # one, a database of its own with the tenant's admin, which configure then logs in as.
    context.template_password = await templates.clone_template(
        context.runtime, context.host, context.driver, context.odoo_version, context.database
    )
    if context.template_password is None:
        await context.driver.create(context.database, admin=context.admin, lang=context.lang)


async def configure(context: ProvisionContext) -> None:
    limits = TIERS[context.tier]
    setup = DatabaseSetup(
        admin=context.admin,
        company_name=context.company_name,
        lang=context.lang,
        timezone=context.timezone,
        base_url=context.base_url,
        expires_at=context.expires_at,
        expiration_reason=limits.expiration_reason,
    )
    if context.standby is not None:
        # The standby's admin, proven when it was prepared. Its database.uuid and
        # database.secret are its own, fresh from duplicate_database and never used:
        # nothing to renew.
        await context.driver.configure(
            context.database, current=context.standby.admin, setup=setup, renew_identity=False
        )
        return
    current = (
        Credentials(templates.TEMPLATE_ADMIN_LOGIN, context.template_password)
        if context.template_password
        else context.admin
    )
    await context.driver.configure(context.database, current=current, setup=setup)


async def verify(context: ProvisionContext) -> None:
    if await context.driver.authenticate(context.database, context.admin) is None:
        raise StepFailed("The new database refuses the admin login")


STEPS: dict[str, Callable[[ProvisionContext], Awaitable[bool | None]]] = {
    "choose_host": choose_host,
    "claim_standby": claim_standby,
    "ensure_template": ensure_template,
    "create_database": create_database,
    "configure": configure,
    "verify": verify,
}


# -- deletion ------------------------------------------------------------------------------------

DELETE_STEPS = ("close", "pre_delete_backup", "drop_database")


def closed_name(runtime: Runtime, instance_id: uuid.UUID) -> str:
    """The name a database being deleted is moved to: derived from a key only the platform
    holds, so no one who knew the tenant's database can name it (and each rerun of the flow
    finds it again). Odoo's rules for names: letters, digits, ``_.-``, under 64 characters."""
    key = derive_key(runtime.secret_key, "closed-database-name")
    return "deleting-" + hmac.new(key, instance_id.bytes, hashlib.sha256).hexdigest()[:32]


async def delete(runtime: Runtime, instance_id: uuid.UUID) -> None:
    """close -> pre_delete_backup -> drop_database, then the instance is deleted.

    ``close`` ends access for good before anything else: the database is stopped (when the
    host gives SQL access; the request that accepted the deletion did so already) and
    renamed to :func:`closed_name`, so no login by its old name can succeed again, even while
    the backup, which needs the database open, reads it. Each step checks its effect first;
    a rerun after a crash goes on from where the last one stopped.
    """
    async with runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, instance_id)
        if instance is None or instance.status != InstanceStatus.DELETING.value:
            return
        host = await session.get(OdooHost, instance.host_id) if instance.host_id else None
        database = instance.database_name
    if host is not None:
        driver = driver_for(runtime, host)
        closed = closed_name(runtime, instance_id)
        step = DELETE_STEPS[0]
        try:
            await _close_for_deletion(driver, database, closed)
            await _checkpoint(runtime, instance_id, step)
            step = "pre_delete_backup"
            await faults.checkpoint(runtime.settings, "delete.pre_delete_backup")
            if await driver.database_exists(closed):
                # Imported here: backups build on instances.
                from saas_platform.backups.service import take_pre_delete_backup

                await take_pre_delete_backup(runtime, instance_id, source_database=closed)
            await _checkpoint(runtime, instance_id, step)
            step = "drop_database"
            await faults.checkpoint(runtime.settings, "delete.drop_database")
            for name in (closed, database):  # the old name only if something recreated it
                if not await driver.drop_and_confirm(name):
                    raise StepFailed(f"Odoo did not drop the database {name}")
        except Exception as exc:
            async with runtime.db.transaction() as session:
                instance = await session.get(Instance, instance_id, with_for_update=True)
                assert instance is not None
                message = exc.message if isinstance(exc, AppError) else str(exc)
                await transition(session, instance, Action.FAIL, f"Step {step} failed: {message}")
                instance.error = {"code": "DELETION_FAILED", "step": step, "message": message}
            raise
        finally:
            await driver.close()
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id, with_for_update=True)
        assert instance is not None
        await transition(session, instance, Action.PURGE, "Database dropped")
        instance.deleted_at = clock.now()
        instance.error = None
        instance.step = DELETE_STEPS[-1]
        instance.flow = None
        tenant = await session.get(Tenant, instance.tenant_id)
        await events.emit(
            session,
            events.TENANT_DELETED,
            {"tenant_id": str(instance.tenant_id), "instance_id": str(instance.id)},
            tenant_id=instance.tenant_id,
        )
        if tenant is not None and tenant.status != TenantStatus.DELETED.value:
            tenant.status = TenantStatus.DELETED.value


async def _close_for_deletion(driver: OdooDriver, database: str, closed: str) -> None:
    if await driver.database_exists(database):
        if driver.can_stop:
            await driver.stop(database)
        # Odoo's own rename: it ends the database's sessions and moves the filestore along.
        await driver.rename(database, closed)
    elif driver.can_stop and await driver.database_exists(closed):
        await driver.stop(closed)  # a backup cut short by a crash left it open


# -- tier changes ----------------------------------------------------------------------------


async def apply_tier(runtime: Runtime, instance_id: uuid.UUID, tier: str) -> None:
    async with runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, instance_id)
        if instance is None or instance.host_id is None or instance.expires_at is None:
            return
        host = await session.get(OdooHost, instance.host_id)
        assert host is not None
        admin = Credentials(
            instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
        )
        database, expires_at = instance.database_name, instance.expires_at
    driver = driver_for(runtime, host)
    try:
        uid = await driver.authenticate(database, admin)
        if uid is None:
            raise StepFailed("The database refuses the admin login")
        await driver.set_config_parameters(
            database,
            uid,
            admin.password,
            {
                "database.expiration_date": expires_at.strftime("%Y-%m-%d %H:%M:%S"),
                "database.expiration_reason": TIERS[tier].expiration_reason,
            },
        )
    finally:
        await driver.close()
