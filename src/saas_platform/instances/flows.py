"""Long instance operations as flows of named, idempotent, checkpointed steps.

Each step first checks whether its effect is already there, so a job killed at any point
is finished by the next worker with no duplicate database and no orphan. After a step
succeeds, ``instance.step`` records it in its own transaction; a rerun starts after it.
A step that fails for good marks the instance failed with the step's name and the reason
(``PROVISIONING_FAILED``); ``retry`` resumes from the last completed step.

    provision: choose_host -> ensure_template -> create_database -> configure -> verify
    delete:    pre_delete_backup -> drop_database -> purge
"""

from __future__ import annotations

import logging
import secrets
import uuid
import zlib
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import update

from saas_platform.core import clock, faults
from saas_platform.core.errors import AppError
from saas_platform.core.runtime import Runtime
from saas_platform.events import service as events
from saas_platform.hosts.models import OdooHost
from saas_platform.hosts.service import HostService, driver_for
from saas_platform.instances.lifecycle import Action, transition
from saas_platform.instances.models import Instance, InstanceStatus
from saas_platform.instances.service import instance_url
from saas_platform.odoo.driver import Credentials, DatabaseSetup
from saas_platform.odoo.rpc_driver import RpcDriver
from saas_platform.tenants.models import Tenant, TenantStatus
from saas_platform.tenants.tiers import TIERS

logger = logging.getLogger(__name__)

TEMPLATE_ADMIN_LOGIN = "admin"
PROVISION_STEPS = ("choose_host", "ensure_template", "create_database", "configure", "verify")


def template_name(odoo_version: str, host_id: uuid.UUID) -> str:
    """One template per host registration: its admin password is kept on the host row."""
    return f"saas_template_{odoo_version.replace('.', '_')}_{host_id.hex[:8]}"


@dataclass
class ProvisionContext:
    runtime: Runtime
    instance_id: uuid.UUID
    host: OdooHost
    driver: RpcDriver
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
        async with runtime.db.sessionmaker() as session:
            done = (await session.get(Instance, instance_id)).step  # type: ignore[union-attr]
        remaining = PROVISION_STEPS[PROVISION_STEPS.index(done) + 1 :] if done else PROVISION_STEPS
        for step in remaining:
            await faults.checkpoint(runtime.settings, f"provision.{step}")
            await STEPS[step](context)
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
        if instance.step is None:
            instance.step = "choose_host"
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
            template_password=(
                runtime.secrets.decrypt(host.template_admin_password_encrypted)
                if host.template_admin_password_encrypted
                else None
            ),
        )


def _base_url(runtime: Runtime, instance: Instance, host: OdooHost, subdomain: str) -> str:
    url = instance_url(runtime, instance, host, subdomain) or host.url
    return url.split("/web?", 1)[0]


async def _checkpoint(runtime: Runtime, instance_id: uuid.UUID, step: str) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(update(Instance).where(Instance.id == instance_id).values(step=step))


async def _finish_provisioning(runtime: Runtime, context: ProvisionContext) -> None:
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert instance is not None
        await transition(session, instance, Action.SUCCEED, "Provisioned and verified by a login")
        instance.ready_at = clock.now()
        instance.error = None
        instance.flow = None
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


async def choose_host(context: ProvisionContext) -> None:
    """Done in _start_provisioning, inside the transaction that locks the host rows."""


async def ensure_template(context: ProvisionContext) -> None:
    """Create the host's warm template for this version on first use.

    Failure here is not fatal: create_database falls back to creating the database."""
    template = template_name(context.odoo_version, context.host.id)
    async with _host_lock(context, template):
        if await context.driver.database_exists(template):
            if context.template_password is not None:
                return
        password = context.template_password or await _remember_template_password(context)
        credentials = Credentials(TEMPLATE_ADMIN_LOGIN, password)
        try:
            if not await context.driver.database_exists(template):
                await context.driver.create(template, admin=credentials, lang="en_US")
            if await context.driver.authenticate(template, credentials) is None:
                raise StepFailed("The template database refuses its admin login")
        except AppError as exc:
            logger.warning(
                "template %s unusable on %s: %s", template, context.host.name, exc.message
            )
            context.template_password = None
            return
        context.template_password = password


async def _remember_template_password(context: ProvisionContext) -> str:
    """Store the template's admin password before creating it, so a crash in between
    leaves a template whose password the platform knows."""
    password = secrets.token_urlsafe(24)
    async with context.runtime.db.transaction() as session:
        host = await session.get(OdooHost, context.host.id, with_for_update=True)
        assert host is not None
        if host.template_admin_password_encrypted:
            return context.runtime.secrets.decrypt(host.template_admin_password_encrypted)
        host.template_admin_password_encrypted = context.runtime.secrets.encrypt(password)
    return password


async def create_database(context: ProvisionContext) -> None:
    if await context.driver.database_exists(context.database):
        return  # a previous run got this far
    template = template_name(context.odoo_version, context.host.id)
    if context.template_password is not None and await context.driver.database_exists(template):
        await context.driver.clone(template, context.database)
    else:
        await context.driver.create(context.database, admin=context.admin, lang=context.lang)


async def configure(context: ProvisionContext) -> None:
    current = (
        Credentials(TEMPLATE_ADMIN_LOGIN, context.template_password)
        if context.template_password
        else context.admin
    )
    limits = TIERS[context.tier]
    await context.driver.configure(
        context.database,
        current=current,
        setup=DatabaseSetup(
            admin=context.admin,
            company_name=context.company_name,
            lang=context.lang,
            timezone=context.timezone,
            base_url=context.base_url,
            expires_at=context.expires_at,
            expiration_reason=limits.expiration_reason,
        ),
    )


async def verify(context: ProvisionContext) -> None:
    if await context.driver.authenticate(context.database, context.admin) is None:
        raise StepFailed("The new database refuses the admin login")


STEPS: dict[str, Callable[[ProvisionContext], Awaitable[None]]] = {
    "choose_host": choose_host,
    "ensure_template": ensure_template,
    "create_database": create_database,
    "configure": configure,
    "verify": verify,
}


@asynccontextmanager
async def _host_lock(context: ProvisionContext, name: str) -> Any:
    """Serialise template creation per host across workers (a session advisory lock)."""
    key = zlib.crc32(f"{context.host.id}:{name}".encode())
    async with await psycopg.AsyncConnection.connect(
        context.runtime.database_url, autocommit=True
    ) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


# -- deletion ------------------------------------------------------------------------------------


async def delete(runtime: Runtime, instance_id: uuid.UUID) -> None:
    async with runtime.db.sessionmaker() as session:
        instance = await session.get(Instance, instance_id)
        if instance is None or instance.status != InstanceStatus.DELETING.value:
            return
        host = await session.get(OdooHost, instance.host_id) if instance.host_id else None
        database = instance.database_name
    if host is not None:
        driver = driver_for(runtime, host)
        step = "pre_delete_backup"
        try:
            if await driver.database_exists(database):
                # Imported here: backups build on instances.
                from saas_platform.backups.service import take_pre_delete_backup

                await take_pre_delete_backup(runtime, instance_id)
            step = "drop_database"
            await faults.checkpoint(runtime.settings, "delete.drop_database")
            if await driver.database_exists(database):
                dropped = await driver.drop(database)
                if not dropped and await driver.database_exists(database):
                    raise StepFailed(f"Odoo did not drop the database {database}")
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
        tenant = await session.get(Tenant, instance.tenant_id)
        await events.emit(
            session,
            events.TENANT_DELETED,
            {"tenant_id": str(instance.tenant_id), "instance_id": str(instance.id)},
            tenant_id=instance.tenant_id,
        )
        if tenant is not None and tenant.status != TenantStatus.DELETED.value:
            tenant.status = TenantStatus.DELETED.value


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
        for key, value in (
            ("database.expiration_date", expires_at.strftime("%Y-%m-%d %H:%M:%S")),
            ("database.expiration_reason", TIERS[tier].expiration_reason),
        ):
            await driver.client.execute_kw(
                database, uid, admin.password, "ir.config_parameter", "set_param", [key, value]
            )
    finally:
        await driver.close()
