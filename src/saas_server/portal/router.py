"""The client portal's routes (seed 004), thin: the rules are in service.py and its peers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy import Select, func, select

from saas_server.core import clock
from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.errors import Forbidden, ValidationFailed
from saas_server.core.openapi import errors
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.portal import files as portal_files
from saas_server.portal import reports, service
from saas_server.portal.access import (
    PortalCallerDep,
    PublicTenantDep,
    caching_headers,
    conditional,
    not_modified,
)
from saas_server.portal.models import (
    PortalNotification,
    PortalRecord,
    PortalSettings,
    PortalTenant,
)
from saas_server.portal.response_schemas import (
    BlogPost,
    BlogPostDetail,
    PortalDashboard,
    PortalFileRead,
    PortalInvoice,
    PortalNotificationRead,
    PortalReport,
    PortalSettingsRead,
    PortalState,
    ProjectDetail,
    ProjectSummary,
    SyncStatus,
)
from saas_server.portal.schemas import SettingsUpdate
from saas_server.portal.sync import defer_sync
from saas_server.tenants.dependencies import TenantAccessDep

# Filter values are checked (a 422 naming the parameter), as on every list.
ProjectStatus = Literal["on_track", "at_risk", "off_track", "on_hold", "to_define", "done"]
NotificationType = Literal[
    "task_stage_changed",
    "invoice_posted",
    "invoice_paid",
    "file_shared",
    "social_post_published",
    "seo_audit_completed",
]

router = PrefixedRouter(prefix="/api/v1", tags=["portal"])
# Its bodies may exceed the API's general limit (app.py gives it the upload limit).
FILES_UPLOAD_PATH = "/api/v1/files/upload"

_data = PortalRecord.data


def _text(*path: str) -> Any:
    return func.jsonb_extract_path_text(_data, *path)


# -- the portal of a tenant ---------------------------------------------------------------------


@router.post(
    "/tenants/{tenant_id}/portal",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PortalState,
    responses={200: {"description": "The portal is on already", "model": PortalState}},
)
async def enable_portal(access: TenantAccessDep, session: SessionDep) -> JSONResponse:
    """Turn the client portal on (owners): 202 while the apps are installed, 200 once on."""
    row = await service.enable(session, access)
    code = 200 if row.status == "enabled" else 202
    return JSONResponse(service.portal_json(row), status_code=code)


@router.get("/tenants/{tenant_id}/portal", response_model=PortalState)
async def get_portal(request: Request, access: TenantAccessDep, session: SessionDep) -> Response:
    """The portal's state: `disabled`, `preparing`, `enabled` or `failed`."""
    body = await service.portal_state(session, access)
    row = await session.get(PortalTenant, access.tenant.id)
    return conditional(request, body, last_modified=row.updated_at if row else None)


# -- sync ---------------------------------------------------------------------------------------


@router.get("/odoo/sync", response_model=SyncStatus)
async def sync_status(request: Request, caller: PortalCallerDep, session: SessionDep) -> Response:
    """The copy of the tenant's Odoo: per model, its count, last run, age and error."""
    if caller.is_client:
        raise Forbidden("The agency's members only")
    body = await service.sync_status(session, caller.tenant_id)
    last_run = body["last_run_at"]
    # The ages in it grow by the second: a conditional GET is answered by the runs alone.
    stable = {**body, "models": [{**m, "age_seconds": None} for m in body["models"]]}
    return conditional(
        request,
        body,
        last_modified=datetime.fromisoformat(last_run) if last_run else None,
        etag_of=stable,
    )


@router.post("/odoo/sync", status_code=status.HTTP_202_ACCEPTED)
async def run_sync(caller: PortalCallerDep, session: SessionDep) -> dict[str, Any]:
    if caller.is_client:
        raise Forbidden("The agency's members only")
    job_id = await defer_sync(session, caller.tenant_id)
    return {"status": "queued", "job_id": job_id}


# -- projects -----------------------------------------------------------------------------------

PROJECT_LIST = ListSpec(
    ordering_fields={
        "name": _text("name"),
        "deadline": _text("date"),
        "start_date": _text("date_start"),
        "created_at": _text("create_date"),
        "updated_at": PortalRecord.odoo_write_date,
        "status": _text("last_update_status"),
    },
    default_ordering="name",
    search_fields=(_text("name"), _text("partner_id", "1")),
    tiebreaker=PortalRecord.odoo_id,
)


@router.get("/projects", response_model=Page[ProjectSummary])
async def list_projects(
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    params: ListParamsDep,
    status_: Annotated[
        ProjectStatus | None,
        Query(alias="status", description="Odoo's project status (last_update_status)"),
    ] = None,
    client: Annotated[
        int | None, Query(description="The client's Odoo partner id (the agency's people).")
    ] = None,
    sort: Annotated[str | None, Query(description="Seed 004's name for ordering.")] = None,
) -> Response:
    stmt: Select[Any] = service.visible(select(PortalRecord), caller, "project.project")
    if status_:
        stmt = stmt.where(_text("last_update_status") == status_)
    if client is not None:
        stmt = stmt.where(PortalRecord.commercial_id == client)
    if sort and not params.ordering:
        params = type(params)(params.page, params.page_size, params.search, sort, params.url)
    page = await paginate(session, stmt, params, PROJECT_LIST, lambda r: r)
    records: list[PortalRecord] = list(page.results)
    stats = await service.task_stats(session, caller.tenant_id, [r.odoo_id for r in records])
    body = {
        "count": page.count,
        "next": page.next,
        "previous": page.previous,
        "results": [
            service.project_json(r, stats.get(r.odoo_id, service.TaskStats())) for r in records
        ],
    }
    return conditional(request, body, last_modified=service.newest(records))


@router.get("/projects/{project_id}", response_model=ProjectDetail, responses=errors(502))
async def get_project(
    project_id: str,
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    project = await service.one(session, caller, "project.project", project_id)
    tasks = (await service.tasks_of(session, caller.tenant_id, [project.odoo_id])).get(
        project.odoo_id, []
    )
    stage_records = await service.stages(session, caller.tenant_id)
    body = service.project_json(
        project, service.stats_of(tasks, stage_records), stage_records, tasks=tasks
    )
    body["files"] = await portal_files.project_attachments(
        session, runtime, caller.tenant_id, project.odoo_id
    )
    return conditional(request, body, last_modified=service.newest([project, *tasks]))


# -- invoices -----------------------------------------------------------------------------------

INVOICE_LIST = ListSpec(
    ordering_fields={
        "invoice_date": _text("invoice_date"),
        "due_date": _text("invoice_date_due"),
        "number": _text("name"),
        "updated_at": PortalRecord.odoo_write_date,
    },
    default_ordering="-invoice_date",
    search_fields=(_text("name"), _text("ref")),
    tiebreaker=PortalRecord.odoo_id,
)


@router.get("/portal/invoices", response_model=Page[PortalInvoice])
async def list_invoices(
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    params: ListParamsDep,
    payment_state: Annotated[str | None, Query(max_length=20)] = None,
    client: Annotated[int | None, Query()] = None,
) -> Response:
    """The client's customer invoices (posted ones; drafts stay the agency's)."""
    stmt = service.visible(select(PortalRecord), caller, "account.move").where(
        _text("state") == "posted"
    )
    if payment_state:
        stmt = stmt.where(_text("payment_state") == payment_state)
    if client is not None:
        stmt = stmt.where(PortalRecord.commercial_id == client)
    page = await paginate(session, stmt, params, INVOICE_LIST, lambda r: r)
    today = service.today_iso()
    records = list(page.results)
    body = {
        "count": page.count,
        "next": page.next,
        "previous": page.previous,
        "results": [service.invoice_json(r, today) for r in records],
    }
    return conditional(request, body, last_modified=service.newest(records))


@router.get("/portal/invoices/{invoice_id}", response_model=PortalInvoice)
async def get_invoice(
    invoice_id: str, request: Request, caller: PortalCallerDep, session: SessionDep
) -> Response:
    invoice = await service.one(session, caller, "account.move", invoice_id)
    if invoice.data.get("state") != "posted":
        raise service.RecordNotFound()
    body = service.invoice_json(invoice, service.today_iso())
    return conditional(request, body, last_modified=invoice.synced_at)


# -- files --------------------------------------------------------------------------------------


@router.post("/files/upload", status_code=status.HTTP_201_CREATED, responses=errors(502))
async def upload_file(
    caller: PortalCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="The file (multipart/form-data).")],
    project_id: Annotated[str | None, Form(max_length=64)] = None,
    client_id: Annotated[int | None, Form()] = None,
) -> dict[str, Any]:
    content = await portal_files.read_upload(file, runtime.settings.portal_upload_max_bytes)
    row = await portal_files.upload(
        session,
        runtime,
        caller,
        name=(file.filename or "file").rsplit("/", 1)[-1] or "file",
        content=content,
        project_id=project_id,
        client_id=client_id,
    )
    return portal_files.file_json(row, runtime)


@router.get("/files/{file_id}", response_model=PortalFileRead)
async def get_file(
    file_id: str,
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    row = await portal_files.get_file(session, caller, file_id)
    return conditional(request, portal_files.file_json(row, runtime), last_modified=row.created_at)


@router.get(
    "/files/{file_id}/download",
    response_class=Response,
    responses={
        200: {
            "description": "The file, with its own media type",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **errors(502),
    },
)
async def download_file(
    file_id: str,
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    row = await portal_files.get_file(session, caller, file_id)
    # The content's digest, known without asking Odoo: a current copy costs Odoo nothing.
    headers = caching_headers(f'"{row.sha256[:40]}"', row.created_at)
    if not_modified(request, headers["ETag"], row.created_at):
        return Response(status_code=304, headers=headers)
    content = await portal_files.download(session, runtime, row)
    safe_name = row.name.replace('"', "").replace("\r", "").replace("\n", "")
    return Response(
        content,
        media_type=row.mimetype,
        headers={
            **headers,
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/files/{file_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(502))
async def delete_file(
    file_id: str, caller: PortalCallerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    row = await portal_files.get_file(session, caller, file_id)
    await portal_files.delete(session, runtime, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- notifications ------------------------------------------------------------------------------

NOTIFICATION_LIST = ListSpec(
    ordering_fields={"created_at": PortalNotification.created_at},
    default_ordering="-created_at",
    search_fields=(PortalNotification.title, PortalNotification.message),
    tiebreaker=PortalNotification.id,
)


def _recipient(stmt: Select[Any], caller: Any) -> Select[Any]:
    stmt = stmt.where(PortalNotification.tenant_id == caller.tenant_id)
    if caller.commercial_id is not None:
        return stmt.where(PortalNotification.commercial_id == caller.commercial_id)
    return stmt.where(PortalNotification.commercial_id.is_(None))


def notification_json(row: PortalNotification) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "type": row.type,
        "title": row.title,
        "message": row.message,
        "data": row.data,
        "read": row.read_at is not None,
        "read_at": row.read_at.isoformat().replace("+00:00", "Z") if row.read_at else None,
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }


@router.get("/notifications", response_model=Page[PortalNotificationRead])
async def list_notifications(
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    params: ListParamsDep,
    read: Annotated[bool | None, Query()] = None,
    type_: Annotated[NotificationType | None, Query(alias="type")] = None,
) -> Response:
    stmt = _recipient(select(PortalNotification), caller)
    if read is not None:
        stmt = stmt.where(
            PortalNotification.read_at.is_not(None)
            if read
            else PortalNotification.read_at.is_(None)
        )
    if type_:
        stmt = stmt.where(PortalNotification.type == type_)
    page = await paginate(session, stmt, params, NOTIFICATION_LIST, notification_json)
    # Any of the caller's notifications made or read changes what a list may show.
    newest = select(
        func.max(PortalNotification.created_at), func.max(PortalNotification.read_at)
    ).where(
        PortalNotification.tenant_id == caller.tenant_id,
        PortalNotification.commercial_id == caller.commercial_id
        if caller.commercial_id is not None
        else PortalNotification.commercial_id.is_(None),
    )
    made_and_read = (await session.execute(newest)).one()
    moments = [m for m in made_and_read if m is not None]
    last_modified = max(moments) if moments else await _portal_opened(session, caller)
    return conditional(request, page.model_dump(), last_modified=last_modified)


async def _portal_opened(session: SessionDep, caller: Any) -> datetime | None:
    """When the tenant's portal was turned on: the date of what has not changed since (no
    notification yet, settings never saved)."""
    portal = await session.get(PortalTenant, caller.tenant_id)
    return (portal.enabled_at or portal.requested_at) if portal else None


@router.put("/notifications/{notification_id}/read")
async def read_notification(
    notification_id: str, caller: PortalCallerDep, session: SessionDep
) -> dict[str, Any]:
    try:
        wanted = uuid.UUID(notification_id)
    except ValueError:
        raise service.RecordNotFound() from None
    row = (
        await session.execute(
            _recipient(select(PortalNotification), caller).where(PortalNotification.id == wanted)
        )
    ).scalar_one_or_none()
    if row is None:
        raise service.RecordNotFound()
    if row.read_at is None:
        row.read_at = clock.now()
    return notification_json(row)


# -- settings -----------------------------------------------------------------------------------


def settings_json(row: PortalSettings | None, caller: Any) -> dict[str, Any]:
    return {
        "language": row.language if row else "en_US",
        "theme": row.theme if row else "system",
        "notifications": {
            "email": row.notify_email if row else True,
            "push": row.notify_push if row else False,
        },
    }


@router.get("/settings", response_model=PortalSettingsRead)
async def get_settings(request: Request, caller: PortalCallerDep, session: SessionDep) -> Response:
    row = await session.get(PortalSettings, (caller.tenant_id, caller.subject))
    last_modified = row.updated_at if row else await _portal_opened(session, caller)
    return conditional(request, settings_json(row, caller), last_modified=last_modified)


@router.put("/settings")
async def put_settings(
    body: SettingsUpdate, caller: PortalCallerDep, session: SessionDep
) -> dict[str, Any]:
    row = await session.get(
        PortalSettings, (caller.tenant_id, caller.subject), with_for_update=True
    )
    if row is None:
        row = PortalSettings(
            tenant_id=caller.tenant_id,
            subject=caller.subject,
            language="en_US",
            theme="system",
            notify_email=True,
            notify_push=False,
        )
        session.add(row)
    if body.language is not None:
        row.language = body.language
    if body.theme is not None:
        row.theme = body.theme
    if body.notifications is not None:
        if body.notifications.email is not None:
            row.notify_email = body.notifications.email
        if body.notifications.push is not None:
            row.notify_push = body.notifications.push
    await session.flush()
    return settings_json(row, caller)


# -- blog (public) ------------------------------------------------------------------------------

BLOG_LIST = ListSpec(
    ordering_fields={
        "published": _text("post_date"),
        "post_date": _text("post_date"),
        "title": _text("name"),
        "updated_at": PortalRecord.odoo_write_date,
    },
    default_ordering="-published",
    search_fields=(_text("name"), _text("subtitle"), _text("teaser")),
    tiebreaker=PortalRecord.odoo_id,
)


def _published(stmt: Select[Any], tenant_id: uuid.UUID) -> Select[Any]:
    return stmt.where(
        PortalRecord.tenant_id == tenant_id,
        PortalRecord.model == "blog.post",
        _text("is_published") == "true",
    )


def post_json(row: PortalRecord, *, full: bool = False) -> dict[str, Any]:
    data = row.data
    _blog_id, blog_name = service.m2o(data.get("blog_id"))
    _, author = service.m2o(data.get("author_id"))
    answer = {
        "id": str(row.id),
        "title": data.get("name"),
        "subtitle": data.get("subtitle") or None,
        "category": blog_name,
        "author": author,
        "teaser": data.get("teaser") or None,
        "tag_ids": data.get("tag_ids") or [],
        "published_at": service.odoo_time(data.get("post_date")),
        "updated_at": service.odoo_time(data.get("write_date")),
    }
    if full:
        answer["content"] = data.get("content") or ""
    return answer


@router.get("/blog/posts", response_model=Page[BlogPost], responses=errors(404))
async def list_posts(
    request: Request,
    tenant_id: PublicTenantDep,
    session: SessionDep,
    params: ListParamsDep,
    category: Annotated[str | None, Query(max_length=200, description="The blog's name.")] = None,
    sort: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """The tenant's published blog posts (public: no login)."""
    stmt = _published(select(PortalRecord), tenant_id)
    if category:
        stmt = stmt.where(func.lower(_text("blog_id", "1")) == category.lower())
    if sort and not params.ordering:
        params = type(params)(params.page, params.page_size, params.search, sort, params.url)
    page = await paginate(session, stmt, params, BLOG_LIST, lambda r: r)
    records = list(page.results)
    body = {
        "count": page.count,
        "next": page.next,
        "previous": page.previous,
        "results": [post_json(r) for r in records],
    }
    return conditional(request, body, last_modified=service.newest(records), public=True)


@router.get("/blog/posts/{post_id}", response_model=BlogPostDetail)
async def get_post(
    post_id: str, request: Request, tenant_id: PublicTenantDep, session: SessionDep
) -> Response:
    try:
        wanted = uuid.UUID(post_id)
    except ValueError:
        raise service.RecordNotFound() from None
    row = (
        await session.execute(
            _published(select(PortalRecord), tenant_id).where(PortalRecord.id == wanted)
        )
    ).scalar_one_or_none()
    if row is None:
        raise service.RecordNotFound()
    return conditional(request, post_json(row, full=True), last_modified=row.synced_at, public=True)


# -- dashboard and reports ----------------------------------------------------------------------


@router.get("/portal/dashboard", response_model=PortalDashboard)
async def dashboard(
    request: Request, caller: PortalCallerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    body, last_modified = await reports.dashboard(session, runtime, caller)
    return conditional(request, body, last_modified=last_modified)


@router.get(
    "/portal/reports",
    response_model=PortalReport,
    responses={
        200: {
            "description": "The report: JSON, or a CSV or PDF file (`format`)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def report(
    request: Request,
    caller: PortalCallerDep,
    session: SessionDep,
    type_: Annotated[
        Literal["projects", "invoices", "seo", "social"], Query(alias="type")
    ] = "projects",
    period: Annotated[str, Query(pattern=r"^(month|quarter|year|all|\d{4}(-\d{2})?)$")] = "month",
    format_: Annotated[Literal["json", "csv", "pdf"], Query(alias="format")] = "json",
) -> Response:
    data, last_modified = await reports.report(session, caller, type_, period)
    if format_ == "json":
        # Tagged by its content without the moment it was made: an unchanged report is a 304.
        content = {k: v for k, v in data.items() if k != "generated_at"}
        return conditional(request, data, last_modified=last_modified, etag_of=content)
    filename = f"{type_}-{period}"
    if format_ == "csv":
        buffer = io.StringIO()
        rows = data["rows"]
        writer = csv.DictWriter(buffer, fieldnames=data["columns"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k) for k in data["columns"]})
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}.csv"',
                "Cache-Control": "private, no-cache",
            },
        )
    if format_ == "pdf":
        return Response(
            reports.pdf(data),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}.pdf"',
                "Cache-Control": "private, no-cache",
            },
        )
    raise ValidationFailed.for_field("format", "json, csv or pdf")
