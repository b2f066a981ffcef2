"""Backup rules: who may back up and restore what, quotas, and the jobs that do the work.

Next to it: the jobs it defers (``jobs.py``), the daily schedule (``schedule.py``) and the
signed download links (``downloads.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.backups import flows
from saas_server.backups.archive import major_version
from saas_server.backups.downloads import download_filename, sign_download
from saas_server.backups.jobs import BACKUP_TASK as BACKUP_TASK
from saas_server.backups.jobs import EXPIRE_TASK as EXPIRE_TASK
from saas_server.backups.jobs import RESTORE_TASK as RESTORE_TASK
from saas_server.backups.jobs import SCHEDULE_TASK as SCHEDULE_TASK
from saas_server.backups.jobs import defer_backup, defer_restore
from saas_server.backups.models import Backup, BackupStatus, BackupType, Restore, RestoreStatus
from saas_server.backups.policy import policy_for
from saas_server.backups.schedule import current_slot
from saas_server.backups.schedule import schedule_due_backups as schedule_due_backups
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError, Conflict, NotFound
from saas_server.core.runtime import Runtime
from saas_server.instances.lifecycle import Action, transition
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import instance_changing, production_instance
from saas_server.tenants.models import Tenant
from saas_server.tenants.service import TenantAccess, TenantService
from saas_server.users.models import User

# The jobs' names and schedule_due_backups are imported `as` themselves: re-exported, as
# before they moved to jobs.py and schedule.py (backups/tasks.py imports them from here).

# Backups of a healthy small database take seconds; this is what 202 answers promise.
ESTIMATED_BACKUP_SECONDS = 60
ESTIMATED_RESTORE_SECONDS = 180
# Instances in these states have a database worth archiving.
BACKUP_STATES = (InstanceStatus.READY.value, InstanceStatus.STOPPED.value)
ACTIVE_BACKUP_STATES = (BackupStatus.PENDING.value, BackupStatus.RUNNING.value)


class BackupNotFound(NotFound):
    code = "BACKUP_NOT_FOUND"
    message = "Backup not found"


class RestoreNotFound(NotFound):
    code = "RESTORE_NOT_FOUND"
    message = "Restore not found"


class BackupQuotaExceeded(AppError):
    status_code = 400
    code = "BACKUP_QUOTA_EXCEEDED"
    message = "The tenant has as many manual backups as its plan allows"


class BackupVersionMismatch(AppError):
    status_code = 400
    code = "BACKUP_VERSION_MISMATCH"
    message = "This backup is of another Odoo version than the instance"


class BackupService:
    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.client = client

    # -- reading --------------------------------------------------------------------------

    def tenant_backups(self, tenant_id: uuid.UUID) -> Any:
        return select(Backup).where(Backup.tenant_id == tenant_id)

    async def get(self, tenant_id: uuid.UUID, backup_id: uuid.UUID) -> Backup:
        backup = await self.session.get(Backup, backup_id)
        if backup is None or backup.tenant_id != tenant_id:
            raise BackupNotFound()
        return backup

    async def get_restore(self, tenant_id: uuid.UUID, restore_id: uuid.UUID) -> Restore:
        restore = await self.session.get(Restore, restore_id)
        if restore is None or restore.tenant_id != tenant_id:
            raise RestoreNotFound()
        return restore

    # -- taking backups -------------------------------------------------------------------

    async def _instance_for_backup(self, tenant: Tenant) -> Instance:
        instance = await production_instance(self.session, tenant.id)
        if instance is None or instance.status not in BACKUP_STATES:
            status = instance.status if instance else "none"
            raise Conflict(
                f"Cannot back up an instance that is {status}",
                details={"status": status, "allowed_states": list(BACKUP_STATES)},
            )
        return instance

    async def create(
        self,
        access: TenantAccess,
        *,
        type_: BackupType = BackupType.MANUAL,
        reason: str | None = None,
        count_quota: bool = True,
    ) -> Backup:
        """A pending backup of the tenant's instance, its job deferred in this transaction."""
        return await self._create(
            access.tenant, access.actor.id, type_=type_, reason=reason, count_quota=count_quota
        )

    async def create_for_operator(self, tenant: Tenant, *, reason: str) -> Backup:
        """A platform operator's backup from the console (``saas backups create``): outside
        the manual quota, as an admin's, with no account as its actor. No job is deferred:
        the command runs the backup itself (``flows.run_backup``), right after this commits."""
        return await self._create(
            tenant, None, type_=BackupType.MANUAL, reason=reason, count_quota=False, run_here=True
        )

    async def _create(
        self,
        tenant: Tenant,
        actor_id: uuid.UUID | None,
        *,
        type_: BackupType,
        reason: str | None,
        count_quota: bool,
        run_here: bool = False,
    ) -> Backup:
        instance = await self._instance_for_backup(tenant)
        if type_ == BackupType.MANUAL and count_quota:
            policy = await policy_for(self.session, self.runtime.settings, tenant.tier)
            held = (
                await self.session.execute(
                    select(func.count())
                    .select_from(Backup)
                    .where(
                        Backup.tenant_id == tenant.id,
                        Backup.type == BackupType.MANUAL.value,
                        Backup.status.in_([*ACTIVE_BACKUP_STATES, BackupStatus.COMPLETED.value]),
                    )
                )
            ).scalar_one()
            if held >= policy.manual_quota:
                raise BackupQuotaExceeded(
                    details={"quota": policy.manual_quota, "held": held, "tier": tenant.tier}
                )
        backup = flows.new_backup(
            self.runtime, instance, type_, reason=reason, requested_by=actor_id
        )
        self.session.add(backup)
        await self.session.flush()
        if not run_here:
            await defer_backup(self.session, backup)
        await audit.record(
            self.session,
            action="backup.created",
            resource_type="backup",
            resource_id=backup.id,
            actor_id=actor_id,
            tenant_id=tenant.id,
            new_values={"type": backup.type, "reason": reason},
            client=self.client,
        )
        return backup

    async def delete(self, access: TenantAccess, backup: Backup) -> None:
        access.require_manager()
        if backup.type != BackupType.MANUAL.value:
            raise Conflict(
                "Only manual backups can be deleted; the others follow their retention",
                details={"type": backup.type},
            )
        if backup.status in ACTIVE_BACKUP_STATES:
            raise Conflict("This backup is still being taken", details={"status": backup.status})
        in_use = (
            await self.session.execute(
                select(Restore.id).where(
                    Restore.backup_id == backup.id,
                    Restore.status.in_([RestoreStatus.PENDING.value, RestoreStatus.RUNNING.value]),
                )
            )
        ).first()
        if in_use is not None:
            raise Conflict("A restore of this backup is under way")
        # The archive goes first (idempotent); if this transaction then fails, the expiry
        # job finds the row without an archive and removes it.
        await flows.storage_of(self.runtime).delete(backup.storage_key)
        await audit.record(
            self.session,
            action="backup.deleted",
            resource_type="backup",
            resource_id=backup.id,
            actor_id=access.actor.id,
            tenant_id=backup.tenant_id,
            old_values={"type": backup.type, "created_at": clock.isoformat(backup.created_at)},
            client=self.client,
        )
        await self.session.delete(backup)
        await self.session.flush()

    # -- restoring ------------------------------------------------------------------------

    async def restore(
        self,
        access: TenantAccess,
        backup: Backup,
        *,
        new_tenant: dict[str, Any] | None = None,
    ) -> Restore:
        """Restore ``backup`` over its tenant's instance, or into a new tenant."""
        access.require_manager()
        if backup.status != BackupStatus.COMPLETED.value:
            raise Conflict(
                "Only a completed backup can be restored", details={"status": backup.status}
            )
        if new_tenant is not None:
            return await self._restore_into_new_tenant(access, backup, new_tenant)
        return await self._restore_over(
            access.tenant, backup, access.actor.id, reason=f"Restoring backup {backup.id}"
        )

    async def restore_for_operator(self, backup: Backup) -> Restore:
        """A platform operator's restore from the console (``saas backups restore``) over
        the backup's tenant: the same version check, transition and audit entry as the API's,
        with no account as its actor. No job is deferred: the command runs the restore
        itself (``flows.run_restore``), right after this commits."""
        if backup.status != BackupStatus.COMPLETED.value:
            raise Conflict(
                "Only a completed backup can be restored", details={"status": backup.status}
            )
        tenant = await self.session.get(Tenant, backup.tenant_id)
        if tenant is None:
            raise Conflict("The tenant has no instance to restore into")
        return await self._restore_over(
            tenant, backup, None, reason=f"CLI restore of {backup.id}", run_here=True
        )

    async def _restore_over(
        self,
        tenant: Tenant,
        backup: Backup,
        actor_id: uuid.UUID | None,
        *,
        reason: str,
        run_here: bool = False,
    ) -> Restore:
        instance = await production_instance(self.session, tenant.id)
        if instance is None:
            raise Conflict("The tenant has no instance to restore into")
        instance = await self.session.get(Instance, instance.id, with_for_update=True)
        assert instance is not None
        if major_version(instance.odoo_version) != major_version(backup.odoo_version):
            raise BackupVersionMismatch(
                details={"backup": backup.odoo_version, "instance": instance.odoo_version}
            )
        # Refused by the packages above as a start would be (a move under way, a tenant
        # suspended for an unpaid invoice): a restore ends with the database running.
        await instance_changing.fire(self.session, instance, Action.RESTORE)
        # 409 unless ready or stopped (provisioning, deleting, restoring...).
        await transition(self.session, instance, Action.RESTORE, reason, actor_id=actor_id)
        return await self._new_restore(actor_id, backup, instance, as_copy=False, run_here=run_here)

    async def _restore_into_new_tenant(
        self, access: TenantAccess, backup: Backup, fields: dict[str, Any]
    ) -> Restore:
        tenants = TenantService(self.session, self.runtime, self.client)
        tenant = await tenants.create_tenant(
            access.actor,
            name=fields["name"],
            subdomain=fields["subdomain"],
            tier=fields.get("tier") or access.tenant.tier,
            odoo_version=major_version(backup.odoo_version),
        )
        instance = await production_instance(self.session, tenant.id)
        assert instance is not None
        return await self._new_restore(access.actor.id, backup, instance, as_copy=True)

    async def _new_restore(
        self,
        actor_id: uuid.UUID | None,
        backup: Backup,
        instance: Instance,
        *,
        as_copy: bool,
        run_here: bool = False,
    ) -> Restore:
        restore = Restore(
            tenant_id=instance.tenant_id,
            instance_id=instance.id,
            backup_id=backup.id,
            source_tenant_id=backup.tenant_id,
            status=RestoreStatus.PENDING.value,
            progress=0,
            as_copy=as_copy,
            requested_by=actor_id,
        )
        self.session.add(restore)
        await self.session.flush()
        if not run_here:
            await defer_restore(self.session, restore)
        await audit.record(
            self.session,
            action="backup.restore_requested",
            resource_type="restore",
            resource_id=restore.id,
            actor_id=actor_id,
            tenant_id=restore.tenant_id,
            new_values={"backup_id": str(backup.id), "as_copy": as_copy},
            client=self.client,
        )
        return restore

    # -- download links -------------------------------------------------------------------

    async def download_link(self, backup: Backup) -> tuple[str, datetime] | None:
        if backup.status != BackupStatus.COMPLETED.value:
            return None
        seconds = self.runtime.settings.backup_download_link_seconds
        expires_at = clock.now() + timedelta(seconds=seconds)
        filename = download_filename(backup)
        url = await flows.storage_of(self.runtime).download_url(
            backup.storage_key, filename=filename, expires_in=seconds
        )
        if url is None:
            token = sign_download(self.runtime, backup.id, expires_at)
            url = f"{self.runtime.settings.public_url}/api/v1/backups/download/{token}"
        return url, expires_at


async def backup_summary(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any]:
    """What the tenant's detail shows of its backups."""
    count = (
        await session.execute(
            select(func.count())
            .select_from(Backup)
            .where(Backup.tenant_id == tenant_id, Backup.status == BackupStatus.COMPLETED.value)
        )
    ).scalar_one()
    last = (
        await session.execute(
            select(Backup)
            .where(Backup.tenant_id == tenant_id)
            .order_by(Backup.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    instance = await production_instance(session, tenant_id)
    return {
        "count": count,
        "last_backup_id": str(last.id) if last else None,
        "last_backup_at": clock.isoformat(last.created_at) if last else None,
        "last_backup_status": last.status if last else None,
        "last_backup_type": last.type if last else None,
        "next_scheduled_at": (
            clock.isoformat(current_slot(instance.id, clock.now()) + timedelta(days=1))
            if instance is not None and instance.status == InstanceStatus.READY.value
            else None
        ),
    }


async def admin_backup(
    session: AsyncSession,
    runtime: Runtime,
    actor: User,
    tenant: Tenant,
    reason: str,
    client: ClientInfo | None = None,
) -> Backup:
    """A platform admin's backup of a tenant: outside the tenant's manual quota."""
    access = TenantAccess(tenant=tenant, role=None, actor=actor)
    return await BackupService(session, runtime, client).create(
        access, type_=BackupType.MANUAL, reason=reason, count_quota=False
    )


async def take_pre_delete_backup(
    runtime: Runtime, instance_id: uuid.UUID, *, source_database: str | None = None
) -> Backup | None:
    """Before a deletion drops the database: an archive kept for the configured days, of
    ``source_database`` (the closed database's name) when given.

    Idempotent: a completed pre_delete backup of the instance is reused, a pending one is
    run. Raises BackupFailed when it cannot be taken (the deletion then waits and retries).
    """
    async with runtime.db.transaction() as session:
        instance = await session.get(Instance, instance_id)
        if instance is None or instance.host_id is None:
            return None
        existing = (
            await session.execute(
                select(Backup)
                .where(
                    Backup.instance_id == instance_id,
                    Backup.type == BackupType.PRE_DELETE.value,
                    Backup.status != BackupStatus.FAILED.value,
                )
                .order_by(Backup.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if existing is None:
            existing = flows.new_backup(
                runtime, instance, BackupType.PRE_DELETE, reason="Before deleting the tenant"
            )
            session.add(existing)
            await session.flush()
        backup_id = existing.id
        if existing.status == BackupStatus.COMPLETED.value:
            return existing
    backup = await flows.run_backup(runtime, backup_id, source_database=source_database)
    if backup.status != BackupStatus.COMPLETED.value:
        message = (backup.error or {}).get("message", "unknown error")
        raise flows.BackupFailed(f"The backup before deletion failed: {message}")
    return backup
