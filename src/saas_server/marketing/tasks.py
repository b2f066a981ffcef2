"""The SEO audit job (marketing/service.py run_audit) and the social publishing sweep
(marketing/social.py)."""

from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.marketing.service import AUDIT_TASK, run_audit
from saas_server.marketing.social import PUBLISH_DUE_TASK, publish_due_posts


@jobs_app.task(name=AUDIT_TASK, queue="maintenance", pass_context=True)
async def seo_audit_task(context: procrastinate.JobContext, audit_id: str) -> None:
    await run_audit(runtime_of(context), uuid.UUID(audit_id))


@jobs_app.task(name=PUBLISH_DUE_TASK, queue="maintenance", pass_context=True)
async def publish_due_posts_task(context: procrastinate.JobContext) -> None:
    await publish_due_posts(runtime_of(context))
