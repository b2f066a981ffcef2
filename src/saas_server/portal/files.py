"""Files shared through the portal: stored as attachments in the tenant's Odoo, on the
client's partner or on one of their projects, so the agency sees them there.

The type is what the content's signature says (``filetype``), never the name; only types of
the allow list are taken, and no file above the size limit.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import filetype
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.portal import notifications
from saas_server.portal.access import PortalCaller
from saas_server.portal.cache import direct_cache
from saas_server.portal.models import PortalFile
from saas_server.portal.odoo_access import tenant_odoo
from saas_server.portal.service import RecordNotFound, one

CHUNK = 1024 * 1024


def sniff(content: bytes, name: str) -> str | None:
    """The content's type from its signature; text is UTF-8 without NUL bytes."""
    kind = filetype.guess(content[:8192])
    if kind is not None:
        return str(kind.mime)
    try:
        content[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if b"\x00" in content[:65536]:
        return None
    return "text/csv" if name.lower().endswith(".csv") else "text/plain"


def file_json(row: PortalFile, runtime: Runtime) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "tenant_id": str(row.tenant_id),
        "name": row.name,
        "mimetype": row.mimetype,
        "size": row.size,
        "sha256": row.sha256,
        "attached_to": {"model": row.res_model, "odoo_id": row.res_id},
        "odoo_attachment_id": row.attachment_id,
        "download_url": f"{runtime.settings.public_url}/api/v1/files/{row.id}/download",
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }


async def read_upload(upload: Any, limit: int) -> bytes:
    """The upload's bytes, refusing more than ``limit`` without reading them all."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Files are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(
    session: AsyncSession,
    runtime: Runtime,
    caller: PortalCaller,
    *,
    name: str,
    content: bytes,
    project_id: str | None,
    client_id: int | None,
) -> PortalFile:
    if not content:
        raise ValidationFailed.for_field("file", "The file is empty.")
    mimetype = sniff(content, name)
    allowed = runtime.settings.portal_upload_types
    if mimetype is None or mimetype not in allowed:
        raise UnsupportedMediaType(
            "This type of file is not accepted",
            details={"detected": mimetype, "allowed": sorted(allowed)},
        )
    if project_id:
        project = await one(session, caller, "project.project", project_id)
        res_model, res_id, commercial = "project.project", project.odoo_id, project.commercial_id
    elif caller.commercial_id is not None:
        res_model, res_id, commercial = "res.partner", caller.commercial_id, caller.commercial_id
    elif client_id:
        res_model, res_id, commercial = "res.partner", client_id, client_id
    else:
        raise ValidationFailed.for_field("project_id", "A project or a client (client_id).")
    async with tenant_odoo(session, runtime, caller.tenant_id) as odoo:
        attachment_id = await odoo.driver.create_record(
            odoo.database,
            odoo.admin,
            "ir.attachment",
            {
                "name": name,
                "datas": base64.b64encode(content).decode("ascii"),
                "res_model": res_model,
                "res_id": res_id,
                "mimetype": mimetype,
            },
        )
    row = PortalFile(
        id=uuid.uuid4(),
        tenant_id=caller.tenant_id,
        attachment_id=attachment_id,
        res_model=res_model,
        res_id=res_id,
        commercial_id=commercial,
        name=name[:255],
        mimetype=mimetype,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=caller.subject,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    # Shared with the other side: the agency when a client uploads, the client otherwise.
    await notifications.notify(
        session,
        caller.tenant_id,
        None if caller.is_client else commercial,
        notifications.FILE_SHARED,
        f"New file: {row.name}",
        f"{row.name} ({row.size} bytes) was shared.",
        {"file_id": str(row.id), "name": row.name},
        f"file:{row.id}",
    )
    if not caller.is_client and commercial is not None:
        await notifications.defer_mail(session, caller.tenant_id)
    await direct_cache(runtime.settings.redis_url).drop_tenant(caller.tenant_id)
    return row


async def get_file(session: AsyncSession, caller: PortalCaller, file_id: str) -> PortalFile:
    try:
        wanted = uuid.UUID(file_id)
    except ValueError:
        raise RecordNotFound() from None
    stmt = select(PortalFile).where(
        PortalFile.id == wanted,
        PortalFile.tenant_id == caller.tenant_id,
        PortalFile.deleted_at.is_(None),
    )
    if caller.commercial_id is not None:
        stmt = stmt.where(PortalFile.commercial_id == caller.commercial_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise RecordNotFound()
    return row


async def download(session: AsyncSession, runtime: Runtime, row: PortalFile) -> bytes:
    async with tenant_odoo(session, runtime, row.tenant_id) as odoo:
        found = await odoo.driver.search_read(
            odoo.database, odoo.admin, "ir.attachment", [("id", "=", row.attachment_id)], ["datas"]
        )
    if not found or not found[0].get("datas"):
        raise RecordNotFound("The file is no longer in Odoo")
    return base64.b64decode(found[0]["datas"])


async def delete(session: AsyncSession, runtime: Runtime, row: PortalFile) -> None:
    async with tenant_odoo(session, runtime, row.tenant_id) as odoo:
        await odoo.driver.unlink_records(
            odoo.database, odoo.admin, "ir.attachment", [row.attachment_id]
        )
    row.deleted_at = clock.now()
    await direct_cache(runtime.settings.redis_url).drop_tenant(row.tenant_id)


async def project_attachments(
    session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID, project_odoo_id: int
) -> list[dict[str, Any]]:
    """The project's attachments as Odoo has them now (what the agency attached there too),
    read straight from Odoo and cached for 5 minutes."""

    async def load() -> list[dict[str, Any]]:
        async with tenant_odoo(session, runtime, tenant_id) as odoo:
            rows = await odoo.driver.search_read(
                odoo.database,
                odoo.admin,
                "ir.attachment",
                [("res_model", "=", "project.project"), ("res_id", "=", project_odoo_id)],
                ["name", "mimetype", "file_size", "create_date"],
                order="id desc",
            )
        return [
            {
                "odoo_id": r["id"],
                "name": r.get("name"),
                "mimetype": r.get("mimetype") or None,
                "size": r.get("file_size") or 0,
                "created_at": str(r.get("create_date") or "").replace(" ", "T") + "Z",
            }
            for r in rows
        ]

    cache = direct_cache(runtime.settings.redis_url)
    return list(await cache.get_or_load(tenant_id, f"project-files:{project_odoo_id}", load))
