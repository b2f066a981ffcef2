from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Select, select

from saas_server.backups import flows
from saas_server.backups.downloads import download_filename, verify_download
from saas_server.backups.models import Backup, BackupStatus, BackupType, Restore
from saas_server.backups.schemas import (
    BackupCreate,
    BackupRead,
    RestoreRead,
    RestoreRequest,
)
from saas_server.backups.service import (
    ESTIMATED_BACKUP_SECONDS,
    ESTIMATED_RESTORE_SECONDS,
    BackupNotFound,
    BackupService,
    RestoreNotFound,
)
from saas_server.core import clock
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.idempotency import IDEMPOTENCY_KEY, idempotent_response
from saas_server.core.ids import parse_id
from saas_server.core.openapi import errors
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.tenants.dependencies import FollowableTenantAccessDep, TenantAccessDep
from saas_server.tenants.service import TenantAccess

router = PrefixedRouter(prefix="/api/v1", tags=["backups"])

BACKUP_LIST = ListSpec(
    ordering_fields={
        "created_at": Backup.created_at,
        "completed_at": Backup.completed_at,
        "size": Backup.size_bytes,
        "type": Backup.type,
        "status": Backup.status,
        "expires_at": Backup.expires_at,
    },
    search_fields=(Backup.reason, Backup.database_name),
    tiebreaker=Backup.id,
)
RESTORE_LIST = ListSpec(
    ordering_fields={"created_at": Restore.created_at, "status": Restore.status},
    tiebreaker=Restore.id,
)


async def get_backup_service(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> BackupService:
    return BackupService(session, runtime, client)


BackupServiceDep = Annotated[BackupService, Depends(get_backup_service)]


def backup_read(backup: Backup) -> BackupRead:
    estimated = None
    if backup.status in (BackupStatus.PENDING.value, BackupStatus.RUNNING.value):
        estimated = (backup.started_at or backup.created_at) + timedelta(
            seconds=ESTIMATED_BACKUP_SECONDS
        )
    return BackupRead(
        id=backup.id,
        tenant_id=backup.tenant_id,
        instance_id=backup.instance_id,
        type=backup.type,
        status=backup.status,
        progress=backup.progress,
        bytes_written=backup.bytes_written,
        size_bytes=backup.size_bytes,
        checksum=backup.sha256,
        storage=backup.storage_kind,
        odoo_version=backup.odoo_version,
        database=backup.database_name,
        source=backup.source,
        reason=backup.reason,
        error=backup.error,
        created_at=backup.created_at,
        started_at=backup.started_at,
        completed_at=backup.completed_at,
        expires_at=backup.expires_at,
        estimated_completion=estimated,
    )


def restore_read(restore: Restore) -> RestoreRead:
    read = RestoreRead.model_validate(restore)
    if restore.completed_at is None:
        read.estimated_completion = (restore.started_at or restore.created_at) + timedelta(
            seconds=ESTIMATED_RESTORE_SECONDS
        )
    return read


def _end_of(day: datetime) -> datetime:
    # A bare date means the whole day; a full timestamp is taken as is.
    if (day.hour, day.minute, day.second, day.microsecond) == (0, 0, 0, 0):
        return day + timedelta(days=1) - timedelta(microseconds=1)
    return day


# The reading routes and the restore also answer the owners of a deleted tenant during its
# grace period (tenants/dependencies.py): they list, download and restore its pre-delete
# backup into a new tenant. A restore over the deleted tenant itself answers 409.
@router.get("/tenants/{tenant_id}/backups", response_model=Page[BackupRead])
async def list_backups(
    access: FollowableTenantAccessDep,
    service: BackupServiceDep,
    params: ListParamsDep,
    type_: Annotated[BackupType | None, Query(alias="type")] = None,
    status_: Annotated[BackupStatus | None, Query(alias="status")] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[BackupRead]:
    stmt: Select = apply_filters(
        service.tenant_backups(access.tenant.id),
        {
            Backup.type: type_.value if type_ else None,
            Backup.status: status_.value if status_ else None,
        },
    )
    if date_from is not None:
        stmt = stmt.where(Backup.created_at >= clock.as_utc(date_from))
    if date_to is not None:
        stmt = stmt.where(Backup.created_at <= _end_of(clock.as_utc(date_to)))
    return await paginate(service.session, stmt, params, BACKUP_LIST, backup_read)


@router.post(
    "/tenants/{tenant_id}/backups",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackupRead,
)
async def create_backup(
    access: TenantAccessDep,
    service: BackupServiceDep,
    request: Request,
    body: BackupCreate | None = None,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    """Sent again with the same ``Idempotency-Key``: the first answer, and one backup."""
    access.require_manager()

    async def work() -> BackupRead:
        return backup_read(await service.create(access, reason=body.reason if body else None))

    return await idempotent_response(
        request, service.session, access.actor.id, status.HTTP_202_ACCEPTED, work
    )


async def _backup(access: TenantAccess, service: BackupService, backup_id: str) -> Backup:
    return await service.get(access.tenant.id, parse_id(backup_id, BackupNotFound))


@router.get("/tenants/{tenant_id}/backups/{backup_id}", response_model=BackupRead)
async def get_backup(
    access: FollowableTenantAccessDep, service: BackupServiceDep, backup_id: str
) -> BackupRead:
    backup = await _backup(access, service, backup_id)
    read = backup_read(backup)
    if access.can_manage:
        link = await service.download_link(backup)
        if link is not None:
            read.download_url, read.download_expires_at = link
    return read


@router.delete("/tenants/{tenant_id}/backups/{backup_id}", status_code=204)
async def delete_backup(access: TenantAccessDep, service: BackupServiceDep, backup_id: str) -> None:
    backup = await _backup(access, service, backup_id)
    await service.delete(access, backup)


@router.post(
    "/tenants/{tenant_id}/backups/{backup_id}/restore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestoreRead,
)
async def restore_backup(
    access: FollowableTenantAccessDep,
    service: BackupServiceDep,
    backup_id: str,
    request: Request,
    body: RestoreRequest | None = None,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    """Sent again with the same ``Idempotency-Key``: the first answer, and one restore."""
    backup = await _backup(access, service, backup_id)
    new_tenant = body.new_tenant.model_dump() if body and body.new_tenant else None

    async def work() -> RestoreRead:
        return restore_read(await service.restore(access, backup, new_tenant=new_tenant))

    return await idempotent_response(
        request, service.session, access.actor.id, status.HTTP_202_ACCEPTED, work
    )


@router.get("/tenants/{tenant_id}/restores", response_model=Page[RestoreRead])
async def list_restores(
    access: FollowableTenantAccessDep, service: BackupServiceDep, params: ListParamsDep
) -> Page[RestoreRead]:
    stmt = select(Restore).where(Restore.tenant_id == access.tenant.id)
    return await paginate(service.session, stmt, params, RESTORE_LIST, restore_read)


@router.get("/tenants/{tenant_id}/restores/{restore_id}", response_model=RestoreRead)
async def get_restore(
    access: FollowableTenantAccessDep, service: BackupServiceDep, restore_id: str
) -> RestoreRead:
    restore = await service.get_restore(access.tenant.id, parse_id(restore_id, RestoreNotFound))
    return restore_read(restore)


@router.get(
    "/backups/download/{token}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The backup's archive (a zip)",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors(401),
    },
)
async def download_backup(token: str, service: BackupServiceDep) -> StreamingResponse:
    """The archive behind a signed link from ``GET .../backups/{id}`` (local storage)."""
    backup_id: uuid.UUID = verify_download(service.runtime, token)
    backup = await service.session.get(Backup, backup_id)
    if backup is None or backup.status != BackupStatus.COMPLETED.value:
        raise BackupNotFound()
    stream = flows.storage_of(service.runtime).read(backup.storage_key)
    headers = {
        "Content-Disposition": f'attachment; filename="{download_filename(backup)}"',
        "Content-Length": str(backup.size_bytes),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(stream, media_type="application/zip", headers=headers)
