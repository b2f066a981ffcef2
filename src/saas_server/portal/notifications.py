"""Notifications for a tenant's clients, made from what changes in the tenant's Odoo (seen
by the sync) and from the portal itself (a file shared), and mailed when the recipients'
settings say so."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.mail.service import Mail, queue_mail
from saas_server.portal.models import PortalNotification, PortalSession, PortalSettings

TASK_STAGE_CHANGED = "task_stage_changed"
INVOICE_POSTED = "invoice_posted"
INVOICE_PAID = "invoice_paid"
# Odoo's payment states of an invoice nothing is due on: "in_payment" (paid, the bank
# statement not yet matched) is what Odoo shows once the accountant app is installed.
PAID = ("paid", "in_payment")
FILE_SHARED = "file_shared"
SOCIAL_POST_PUBLISHED = "social_post_published"
SEO_AUDIT_COMPLETED = "seo_audit_completed"
TYPES = (
    TASK_STAGE_CHANGED,
    INVOICE_POSTED,
    INVOICE_PAID,
    FILE_SHARED,
    SOCIAL_POST_PUBLISHED,
    SEO_AUDIT_COMPLETED,
)
# The marketing events (recorded in the outbox, their types a public contract of the
# webhooks) that become notifications for the post's or the audit's client. Named here, not
# imported: marketing sits above the portal.
POST_PUBLISHED_EVENT = "social.post_published"
AUDIT_COMPLETED_EVENT = "seo.audit_completed"
MARKETING_EVENTS = (POST_PUBLISHED_EVENT, AUDIT_COMPLETED_EVENT)
MAIL_TASK = "portal.mail_notifications"


def _name(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) > 1:
        return str(value[1])
    return ""


async def notify(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    commercial_id: int | None,
    type_: str,
    title: str,
    message: str,
    data: dict[str, Any],
    dedupe_key: str,
) -> None:
    """Record a notification once per ``dedupe_key``."""
    await session.execute(
        insert(PortalNotification)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            commercial_id=commercial_id,
            type=type_,
            title=title[:255],
            message=message,
            data=data,
            dedupe_key=dedupe_key[:200],
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
    )


async def from_change(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    model: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    commercial_id: int | None,
) -> None:
    """The notifications one synced change makes (none for most changes)."""
    odoo_id = after.get("id")
    if model == "project.task" and before is not None:
        if before.get("stage_id") != after.get("stage_id") and after.get("stage_id"):
            stage = _name(after.get("stage_id"))
            await notify(
                session,
                tenant_id,
                commercial_id,
                TASK_STAGE_CHANGED,
                f"{after.get('name')} moved to {stage}",
                f"The task {after.get('name')!r} of {_name(after.get('project_id'))} is now "
                f"in {stage} (was {_name(before.get('stage_id')) or 'no stage'}).",
                {
                    "task_odoo_id": odoo_id,
                    "from_stage": _name(before.get("stage_id")),
                    "to_stage": stage,
                },
                f"task:{odoo_id}:stage:{after['stage_id'][0]}:{after.get('date_last_stage_update')}",
            )
    if model == "account.move" and after.get("move_type") == "out_invoice":
        was = before or {}
        if after.get("state") == "posted" and was.get("state") != "posted":
            await notify(
                session,
                tenant_id,
                commercial_id,
                INVOICE_POSTED,
                f"Invoice {after.get('name')}",
                f"Invoice {after.get('name')} of {after.get('amount_total')} is due on "
                f"{after.get('invoice_date_due') or 'receipt'}.",
                {"invoice_odoo_id": odoo_id, "name": after.get("name")},
                f"invoice:{odoo_id}:posted",
            )
        if after.get("payment_state") in PAID and was.get("payment_state") not in PAID:
            await notify(
                session,
                tenant_id,
                commercial_id,
                INVOICE_PAID,
                f"Invoice {after.get('name')} paid",
                f"Thank you: invoice {after.get('name')} is paid.",
                {"invoice_odoo_id": odoo_id, "name": after.get("name")},
                f"invoice:{odoo_id}:paid",
            )


async def defer_mail(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Queue the mailing of the tenant's notifications not mailed yet (one job waiting at
    most): for those made outside a sync, which mails its own at its end."""
    await defer(
        session,
        MAIL_TASK,
        queue="portal",
        queueing_lock=f"portal-mail:{tenant_id}",
        tenant_id=str(tenant_id),
    )


def _client_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


async def from_marketing_event(
    session: AsyncSession, tenant_id: uuid.UUID, type_: str, data: dict[str, Any]
) -> bool:
    """The notification a marketing event makes for its client (``client_id``: the client's
    commercial partner; None: the agency's own, shown to its members): a scheduled post that
    went out, an SEO audit that completed. A failed audit is the agency's to retry, not news
    for the client. True when the event was one of them."""
    client = _client_id(data.get("client_id"))
    if type_ == POST_PUBLISHED_EVENT:
        platform = str(data.get("platform") or "social")
        content = str(data.get("content") or "")
        excerpt = content if len(content) <= 140 else content[:139] + "\u2026"
        await notify(
            session,
            tenant_id,
            client,
            SOCIAL_POST_PUBLISHED,
            f"Your {platform} post went out",
            f"The post scheduled for {data.get('scheduled_time') or 'now'} was published on "
            f"{platform}: {excerpt}",
            {
                "post_id": data.get("id"),
                "platform": platform,
                "scheduled_time": data.get("scheduled_time"),
            },
            f"social:{data.get('id')}:published",
        )
        return True
    if type_ == AUDIT_COMPLETED_EVENT:
        if data.get("status") != "completed":
            return False
        url = str(data.get("url") or "")
        score = data.get("score")
        await notify(
            session,
            tenant_id,
            client,
            SEO_AUDIT_COMPLETED,
            f"SEO audit of {url} finished",
            f"The SEO audit of {url} is ready: it scored {score} out of 100.",
            {"audit_id": data.get("id"), "url": url, "score": score},
            f"seo:{data.get('id')}:completed",
        )
        return True
    return False


async def mail_pending(session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID) -> int:
    """Mail the tenant's notifications not mailed yet to the clients' portal users whose
    settings ask for mail (the default); marks them mailed either way."""
    pending = (
        await session.execute(
            select(PortalNotification)
            .where(
                PortalNotification.tenant_id == tenant_id,
                PortalNotification.emailed_at.is_(None),
                PortalNotification.commercial_id.is_not(None),
            )
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    sent = 0
    for notification in list(pending):
        recipients = (
            await session.execute(
                select(PortalSession.partner_id, PortalSession.email)
                .where(
                    PortalSession.tenant_id == tenant_id,
                    PortalSession.commercial_id == notification.commercial_id,
                    PortalSession.email.is_not(None),
                )
                .distinct()
            )
        ).all()
        for partner_id, email in recipients:
            settings = await session.get(PortalSettings, (tenant_id, f"partner:{partner_id}"))
            if not email or (settings is not None and not settings.notify_email):
                continue
            await queue_mail(
                session,
                runtime.secrets,
                Mail(to=email, subject=notification.title, text=notification.message + "\n"),
            )
            sent += 1
        notification.emailed_at = clock.now()
    return sent
