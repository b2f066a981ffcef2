"""The shapes of the portal's answers, for the OpenAPI document (and so the SDKs).

The routes build their bodies as dicts (service.py, reports.py, files.py) and answer them
through ``conditional`` (ETag, Last-Modified); these models only describe them:
``response_model`` on a route returning a ``Response`` documents without validating.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from saas_server.core.schemas import Schema


class PortalState(Schema):
    tenant_id: uuid.UUID
    status: str = Field(examples=["enabled"], description="disabled, preparing, enabled, failed")
    enabled: bool
    modules: list[str] = Field(examples=[["project", "account", "website_blog"]])
    requested_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])
    enabled_at: str | None = Field(examples=["2026-01-15T09:31:00Z"])
    error: str | None


class SyncedModel(Schema):
    model: str = Field(examples=["project.task"])
    count: int = Field(examples=[42])
    last_run_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])
    last_success_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])
    age_seconds: int | None = Field(examples=[95], description="Since the last success")
    last_changed: int = Field(examples=[3], description="Records the last run changed")
    error: str | None


class SyncStatus(Schema):
    status: str = Field(examples=["ok"], description="never_run, ok, partial or failed")
    last_run_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])
    models: list[SyncedModel]
    errors: dict[str, str] = Field(examples=[{}], description="Each failing model's error")


class PortalClient(Schema):
    """The Odoo partner a record belongs to."""

    odoo_id: int | None = Field(examples=[7])
    name: str | None = Field(examples=["Acme Corp"])


class TaskStage(Schema):
    id: str | None
    name: str | None = Field(examples=["In Progress"])
    folded: bool


class PortalTask(Schema):
    id: str
    odoo_id: int = Field(examples=[42])
    name: str | None = Field(examples=["Migrate the product catalogue"])
    stage: TaskStage | None
    state: str | None = Field(examples=["01_in_progress"])
    done: bool
    priority: str | None = Field(examples=["0"])
    deadline: str | None = Field(examples=["2026-02-01T17:00:00Z"])
    stage_changed_at: str | None = Field(examples=["2026-01-14T08:00:00Z"])
    updated_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])


class ProjectStage(Schema):
    id: str
    name: str | None = Field(examples=["In Progress"])
    sequence: int | None = Field(examples=[10])
    folded: bool
    task_count: int


class ProjectFile(Schema):
    """An attachment of the project in the tenant's Odoo."""

    odoo_id: int = Field(examples=[311])
    name: str | None = Field(examples=["brief.pdf"])
    mimetype: str | None = Field(examples=["application/pdf"])
    size: int
    created_at: str = Field(examples=["2026-01-15T09:30:00Z"])


class ProjectStageRef(Schema):
    """The project's own stage in Odoo (read when Odoo's 'Project Stages' setting is on)."""

    odoo_id: int = Field(examples=[2])
    name: str | None = Field(examples=["In Progress"])


class ProjectSummary(Schema):
    id: str
    odoo_id: int = Field(examples=[12])
    tenant_id: uuid.UUID
    name: str | None = Field(examples=["Website relaunch"])
    client: PortalClient
    stage: ProjectStageRef | None
    status: str | None = Field(
        examples=["on_track"], description="on_track, at_risk, off_track, on_hold, to_define, done"
    )
    start_date: str | None = Field(examples=["2026-01-05"])
    deadline: str | None = Field(examples=["2026-03-31"])
    next_task_deadline: str | None = Field(examples=["2026-02-01T17:00:00Z"])
    task_count: int
    tasks_done: int
    progress: int = Field(ge=0, le=100, examples=[40], description="Percent of tasks done")
    updated_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])
    synced_at: str | None = Field(examples=["2026-01-15T09:31:00Z"])


class ProjectDetail(ProjectSummary):
    tasks: list[PortalTask]
    stages: list[ProjectStage]
    files: list[ProjectFile]


class PortalInvoice(Schema):
    id: str
    odoo_id: int = Field(examples=[88])
    tenant_id: uuid.UUID
    number: str | None = Field(examples=["INV/2026/0001"])
    type: str | None = Field(examples=["out_invoice"])
    state: str | None = Field(examples=["posted"])
    payment_state: str | None = Field(examples=["not_paid"])
    client: PortalClient
    invoice_date: str | None = Field(examples=["2026-01-15"])
    due_date: str | None = Field(examples=["2026-02-14"])
    overdue: bool
    currency: str | None = Field(examples=["EUR"])
    amount_total_cents: int = Field(examples=[121000])
    amount_due_cents: int = Field(examples=[121000])
    updated_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])


class FileAttachedTo(Schema):
    model: str | None = Field(examples=["project.project"])
    odoo_id: int | None = Field(examples=[12])


class PortalFileRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str = Field(examples=["brief.pdf"])
    mimetype: str = Field(examples=["application/pdf"])
    size: int
    sha256: str = Field(
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    )
    attached_to: FileAttachedTo
    odoo_attachment_id: int | None = Field(examples=[311])
    download_url: str = Field(
        examples=["https://platform.example.com/api/v1/files/3f2b8c1e/download"]
    )
    created_at: str = Field(examples=["2026-01-15T09:30:00Z"])


class PortalNotificationRead(Schema):
    id: uuid.UUID
    type: str = Field(examples=["invoice.posted"])
    title: str = Field(examples=["New invoice INV/2026/0001"])
    message: str | None = Field(examples=["An invoice of 1,210.00 EUR is due on 2026-02-14."])
    data: dict[str, Any] | None
    read: bool
    read_at: str | None = Field(examples=["2026-01-15T10:00:00Z"])
    created_at: str = Field(examples=["2026-01-15T09:30:00Z"])


class NotificationPreferences(Schema):
    email: bool
    push: bool


class PortalSettingsRead(Schema):
    language: str = Field(examples=["en_US"])
    theme: str = Field(examples=["system"], description="light, dark or system")
    notifications: NotificationPreferences


class BlogPost(Schema):
    id: uuid.UUID
    title: str | None = Field(examples=["Our spring collection"])
    subtitle: str | None = Field(examples=["What is new this season"])
    category: str | None = Field(examples=["News"], description="The blog's name")
    author: str | None = Field(examples=["Jane Doe"])
    teaser: str | None = Field(examples=["Ten new products, and a few surprises."])
    tag_ids: list[int] = Field(examples=[[1, 4]])
    published_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])
    updated_at: str | None = Field(examples=["2026-01-15T09:30:00Z"])


class BlogPostDetail(BlogPost):
    content: str = Field(examples=["<p>Ten new products, and a few surprises.</p>"])


class DashboardProjects(Schema):
    open_count: int
    total_count: int
    open: list[ProjectSummary] = Field(description="The open projects, soonest deadline first")


class DueTask(PortalTask):
    project: str | None = Field(examples=["Website relaunch"])


class CurrencyTotals(Schema):
    currency: str = Field(examples=["EUR"])
    open_cents: int = Field(examples=[121000])
    overdue_cents: int = Field(examples=[0])
    open_count: int = Field(examples=[1])
    overdue_count: int = Field(examples=[0])


class DashboardInvoices(Schema):
    by_currency: list[CurrencyTotals]


class PortalDashboard(Schema):
    tenant_id: uuid.UUID
    projects: DashboardProjects
    tasks_due_soon: list[DueTask]
    invoices: DashboardInvoices
    unread_notifications: int
    seo: dict[str, Any] | None = Field(
        description="The client's SEO figures from its audits (latest audit, score, findings)"
    )
    social: dict[str, Any] | None = Field(
        description="The client's social figures (scheduled and published posts, engagement)"
    )
    data_synced_at: str | None = Field(examples=["2026-01-15T09:31:00Z"])


class PortalReport(Schema):
    """A report as JSON (``format=json``); ``csv`` and ``pdf`` carry the same rows."""

    type: str = Field(examples=["projects"], description="projects, invoices, seo or social")
    period: str = Field(examples=["month"])
    generated_at: str = Field(examples=["2026-01-15T09:30:00Z"])
    columns: list[str] = Field(
        examples=[["project", "client", "status", "deadline", "tasks", "tasks_done", "progress"]]
    )
    rows: list[dict[str, Any]] = Field(
        examples=[
            [
                {
                    "project": "Website relaunch",
                    "client": "Acme Corp",
                    "status": "on_track",
                    "deadline": "2026-03-31",
                    "tasks": 10,
                    "tasks_done": 4,
                    "progress": 40,
                }
            ]
        ]
    )
    totals: dict[str, Any] = Field(examples=[{"count": 1, "tasks": 10, "tasks_done": 4}])
