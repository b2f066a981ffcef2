"""Long instance operations as flows of named, idempotent, checkpointed steps (core/flows.py).

    provision: choose_host -> claim_standby -> ensure_template -> create_database
               -> configure -> verify

(the deletion flow is in deletion.py; a tier change is one operation, apply_tier)

Each step first checks whether its effect is already there, so a job killed at any point
is finished by the next worker with no duplicate database and no orphan. After a step
succeeds, ``instance.step`` records it in its own transaction (``choose_host`` and
``claim_standby`` record it in the transaction that does their work); a rerun starts after
it. A provisioning step that fails for good marks the instance failed with the step's name
and the reason (``PROVISIONING_FAILED``); ``retry`` resumes from the last completed step.

Provisioning takes a standby database of the host when one is ready (hosts/standby.py):
``create_database`` then renames it instead of cloning the template, and ``configure``
writes no password hash unless the tenant chose its own password.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, update

from saas_server.core import clock, faults
from saas_server.core.errors import AppError
from saas_server.core.flows import RECORDED, Flow, Progress, StepError, StepResult
from saas_server.core.hooks import Hook
from saas_server.core.runtime import Runtime
from saas_server.events import progress
from saas_server.events import service as events
from saas_server.instances.hosts import standby, templates
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.hosts.service import HostService
from saas_server.instances.lifecycle import Action, transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import instance_settled, instance_url
from saas_server.odoo.driver import Credentials, DatabaseSetup, OdooDriver
from saas_server.odoo.errors import OdooFault
from saas_server.tenants.models import Tenant
from saas_server.tenants.tiers import grant_for

logger = logging.getLogger(__name__)


class StepFailed(AppError):
    status_code = 500
    code = "PROVISIONING_FAILED"
    message = "Provisioning failed"


class WaitingForHost(Exception):
    """No healthy host with room: the instance waits (pending) until one is usable."""


# Fired in the transaction that makes an instance's database ready: after provisioning, and
# after a restore replaced it (backups). Higher packages (re)write into it what they need
# (integrations: its webhook secret).
INSTANCE_READY: Hook[[Any, Runtime, Instance]] = Hook("instances.instance_ready")


# -- provisioning -------------------------------------------------------------------------------


@dataclass
class ProvisionContext:
    runtime: Runtime
    instance_id: uuid.UUID
    database: str
    odoo_version: str
    admin: Credentials
    company_name: str
    subdomain: str
    lang: str
    timezone: str
    tier: str
    expires_at: Any
    # The tier's plan's reason written with the expiry (tenants/tiers.py).
    expiration_reason: str
    # Known once choose_host ran (now or in an earlier run).
    host: OdooHost | None = None
    base_url: str = ""
    template_password: str | None = None
    # The standby database this instance claimed, until it is ready.
    standby: standby.ClaimedStandby | None = None
    _driver: OdooDriver | None = field(default=None, repr=False)
    # Whose stream shows the steps (instance.progress).
    tenant_id: uuid.UUID | None = None

    def use_host(self, host: OdooHost, instance: Instance) -> None:
        self.host = host
        self._driver = driver_for(self.runtime, host)
        self.base_url = _base_url(self.runtime, instance, host, self.subdomain)
        self.template_password = templates.known_template_password(self.runtime, host)

    @property
    def on_host(self) -> OdooHost:
        assert self.host is not None, "choose_host runs first"
        return self.host

    @property
    def driver(self) -> OdooDriver:
        assert self._driver is not None, "choose_host runs first"
        return self._driver

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()


async def choose_host(context: ProvisionContext) -> StepResult:
    """The least-loaded usable host of the version, in the transaction that locks the host
    rows (concurrent jobs count each other), recorded with the host; none: the instance
    waits for one (raises WaitingForHost once the wait is recorded)."""
    async with context.runtime.db.transaction() as session:
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert instance is not None
        host: OdooHost | None
        if instance.host_id is None:
            host = await HostService(session, context.runtime).pick(instance.odoo_version)
            if host is None:
                waiting = f"No healthy Odoo {instance.odoo_version} host with room; waiting for one"
                if instance.status_reason != waiting:
                    await transition(session, instance, Action.WAIT, waiting)
            else:
                instance.host_id = host.id
        else:
            host = await session.get(OdooHost, instance.host_id)
            assert host is not None
        if host is not None:
            await _begin(session, instance, host)
            instance.step = PROVISION.step_names[0]
            context.use_host(host, instance)
    if host is None:
        raise WaitingForHost(waiting)
    return RECORDED


async def claim_standby(context: ProvisionContext) -> StepResult:
    """Take a ready standby database of the host if the pool has one, recorded with the
    claim. A generated admin password becomes the standby's (already hashed and proven);
    one the tenant chose is written by ``configure``. Either way the password is final from
    here on, and the step is recorded with it."""
    runtime = context.runtime
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, context.instance_id, with_for_update=True)
        assert instance is not None
        claimed = await standby.claimed_by(session, runtime, instance.id)
        if claimed is None and runtime.settings.standby_databases_per_host > 0:
            claimed = await standby.claim(
                session, runtime, context.on_host.id, instance.odoo_version, instance.id
            )
        if claimed is not None and instance.admin_password_provisional:
            instance.admin_password_encrypted = claimed.admin_password_encrypted
        instance.admin_password_provisional = False
        instance.step = "claim_standby"
        context.standby = claimed
        context.admin = Credentials(
            instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
        )
    return RECORDED


async def ensure_template(context: ProvisionContext) -> StepResult:
    """Create the host's warm template for this version on first use (not needed with a
    standby). Failure here is not fatal: create_database falls back to creating it."""
    if context.standby is not None:
        return RECORDED  # nothing done: nothing to record
    context.template_password = await templates.ensure_template(
        context.runtime,
        context.on_host,
        context.driver,
        context.odoo_version,
        context.template_password,
    )
    return None


async def create_database(context: ProvisionContext) -> StepResult:
    if context.standby is not None:
        name = context.standby.database_name
        try:
            await context.driver.rename(name, context.database)
            return None
        except OdooFault:
            if await context.driver.database_exists(name):
                raise  # the standby is intact: the rename itself failed (name taken?)
        if await context.driver.database_exists(context.database):
            return None  # renamed by a run that was killed before its checkpoint
        # The standby is gone (dropped by hand?): let it go and clone as without one.
        logger.warning("standby %s vanished; cloning for %s", name, context.database)
        async with context.runtime.db.transaction() as session:
            await standby.forget(session, context.standby.id)
        context.standby = None
        await ensure_template(context)
    elif await context.driver.database_exists(context.database):
        return None  # a previous run got this far
    # Only a template whose creation is recorded is cloned (hosts/templates.py); without
    # one, a database of its own with the tenant's admin, which configure then logs in as.
    context.template_password = await templates.clone_template(
        context.runtime, context.on_host, context.driver, context.odoo_version, context.database
    )
    if context.template_password is None:
        await context.driver.create(context.database, admin=context.admin, lang=context.lang)
    return None


async def configure(context: ProvisionContext) -> StepResult:
    setup = DatabaseSetup(
        admin=context.admin,
        company_name=context.company_name,
        lang=context.lang,
        timezone=context.timezone,
        base_url=context.base_url,
        expires_at=context.expires_at,
        expiration_reason=context.expiration_reason,
    )
    if context.standby is not None:
        # The standby's admin, proven when it was prepared. Its database.uuid and
        # database.secret are its own, fresh from duplicate_database and never used:
        # nothing to renew.
        await context.driver.configure(
            context.database, current=context.standby.admin, setup=setup, renew_identity=False
        )
        return None
    current = (
        Credentials(templates.TEMPLATE_ADMIN_LOGIN, context.template_password)
        if context.template_password
        else context.admin
    )
    await context.driver.configure(context.database, current=current, setup=setup)
    return None


async def verify(context: ProvisionContext) -> StepResult:
    if await context.driver.authenticate(context.database, context.admin) is None:
        raise StepFailed("The new database refuses the admin login")
    return None


PROVISION: Flow[ProvisionContext] = Flow(
    "provision",
    (choose_host, claim_standby, ensure_template, create_database, configure, verify),
)
PROVISION_STEPS = PROVISION.step_names


async def provision(runtime: Runtime, instance_id: uuid.UUID) -> None:
    started = await _start_provisioning(runtime, instance_id)
    if started is None:
        return
    context, done = started

    async def record(progress: Progress) -> None:
        # The last step needs none: _finish_provisioning records it with the state change.
        if progress.step != PROVISION.last:
            await checkpoint(runtime, instance_id, progress.step)

    try:
        await PROVISION.run(
            context,
            settings=runtime.settings,
            done=done,
            record=record,
            announce=progress.announcer(
                runtime, events.INSTANCE_PROGRESS, context.tenant_id, instance_id=instance_id
            ),
        )
        try:
            await _finish_provisioning(runtime, context)
        except Exception as exc:  # recorded as the last step's failure, as a step's would be
            raise StepError(PROVISION.name, PROVISION.last, exc) from exc
    except StepError as failed:  # every failure is recorded on the instance, then retryable
        if isinstance(failed.error, WaitingForHost):
            return
        if not await _fail_provisioning(runtime, instance_id, failed.step, failed.error):
            raise failed.error from None  # not provisioning yet: the job itself fails
        if not isinstance(failed.error, AppError | faults.InjectedFault):
            logger.exception("provisioning step %s failed", failed.step, exc_info=failed.error)
    finally:
        await context.close()


async def _start_provisioning(
    runtime: Runtime, instance_id: uuid.UUID
) -> tuple[ProvisionContext, str | None] | None:
    """The context of a pending or provisioning instance and its last recorded step."""
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id, with_for_update=True)
        if instance is None or instance.status not in (
            InstanceStatus.PENDING.value,
            InstanceStatus.PROVISIONING.value,
        ):
            return None
        tenant = await session.get(Tenant, instance.tenant_id)
        assert tenant is not None
        context = ProvisionContext(
            runtime=runtime,
            instance_id=instance.id,
            database=instance.database_name,
            odoo_version=instance.odoo_version,
            admin=Credentials(
                instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
            ),
            company_name=tenant.name,
            subdomain=tenant.subdomain,
            lang=instance.lang,
            timezone=instance.timezone,
            tier=tenant.tier,
            expires_at=instance.expires_at,
            expiration_reason=(await grant_for(session, tenant.tier)).expiration_reason,
            tenant_id=tenant.id,
        )
        done = instance.step if instance.step in PROVISION.step_names else None
        if done is not None and instance.host_id is not None:
            # Resumed (by a retry, or after a killed worker) past choose_host.
            host = await session.get(OdooHost, instance.host_id)
            assert host is not None
            await _begin(session, instance, host)
            context.use_host(host, instance)
            if PROVISION.position(done) >= PROVISION.position("claim_standby"):
                context.standby = await standby.claimed_by(session, runtime, instance.id)
        else:
            done = None
        return context, done


async def _begin(session: Any, instance: Instance, host: OdooHost) -> None:
    if instance.status == InstanceStatus.PENDING.value:
        await transition(session, instance, Action.PROVISION, f"Provisioning on {host.name}")
        instance.flow = "provision"


def _base_url(runtime: Runtime, instance: Instance, host: OdooHost, subdomain: str) -> str:
    url = instance_url(runtime, instance, host, subdomain) or host.url
    return url.split("/web?", 1)[0]


_INSTANCES = cast(Table, Instance.__table__)


async def checkpoint(runtime: Runtime, instance_id: uuid.UUID, step: str) -> None:
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
        instance.step = PROVISION.last
        instance.ready_at = clock.now()
        instance.error = None
        instance.flow = None
        if context.standby is not None:
            await standby.forget(session, context.standby.id)
        await INSTANCE_READY.fire(session, runtime, instance)
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
        # Last: a tenant suspended while this ran has its new instance stopped at once.
        await instance_settled.fire(session, runtime, instance)


async def _fail_provisioning(
    runtime: Runtime, instance_id: uuid.UUID, step: str, exc: Exception
) -> bool:
    """Record the failure on a provisioning instance; False when it is not provisioning."""
    message = exc.message if isinstance(exc, AppError) else str(exc) or type(exc).__name__
    details = exc.details if isinstance(exc, AppError) else {}
    reason = f"Step {step} failed: {message}"
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id, with_for_update=True)
        if instance is None or instance.status != InstanceStatus.PROVISIONING.value:
            return False
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
    return True


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
        reason = (await grant_for(session, tier)).expiration_reason
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
                "database.expiration_reason": reason,
            },
        )
    finally:
        await driver.close()
