"""The SEO audit lifecycle as a transition table (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_server.core.lifecycle import Lifecycle
from saas_server.marketing.models import AuditStatus


class AuditAction(enum.StrEnum):
    START = "start"  # a worker fetches and checks (again, after a killed worker)
    COMPLETE = "complete"
    FAIL = "fail"  # refused by robots.txt or the SSRF guard, or the page did not answer


A = AuditStatus

SEO_AUDIT: Lifecycle[AuditStatus, AuditAction] = Lifecycle(
    "seo audit",
    {
        (A.PENDING, AuditAction.START): A.RUNNING,
        (A.RUNNING, AuditAction.START): A.RUNNING,
        (A.RUNNING, AuditAction.COMPLETE): A.COMPLETED,
        (A.PENDING, AuditAction.FAIL): A.FAILED,
        (A.RUNNING, AuditAction.FAIL): A.FAILED,
    },
    initial=(A.PENDING,),
    final=(A.COMPLETED, A.FAILED),
    source="saas_server/marketing/lifecycle.py",
    description="""\
An audit is requested `pending`, its job deferred in the same transaction. A worker takes it
`running`, fetches the page, its robots.txt, sitemap, links and competitors through the SSRF
guard (marketing/seo.py), and stores the report: `completed` with a score and findings, or
`failed` with the reason (robots.txt disallows the page, the URL is not public, the page
did not answer).""",
)
