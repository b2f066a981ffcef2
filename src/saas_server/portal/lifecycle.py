"""A tenant's client portal as a transition table (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_server.core.lifecycle import Lifecycle
from saas_server.portal.models import PortalStatus

S = PortalStatus


class PortalAction(enum.StrEnum):
    RETRY = "retry"  # the owner turns it on again after a failed preparation
    PREPARE = "prepare"  # the apps are installed in the tenant's Odoo
    FAIL = "fail"  # Odoo refused or could not be reached


PORTAL: Lifecycle[PortalStatus, PortalAction] = Lifecycle(
    "client portal",
    {
        (S.PREPARING, PortalAction.PREPARE): S.ENABLED,
        (S.PREPARING, PortalAction.FAIL): S.FAILED,
        (S.FAILED, PortalAction.RETRY): S.PREPARING,
    },
    initial=(S.PREPARING,),
    final=(S.ENABLED,),
    user_actions=(PortalAction.RETRY,),
    source="saas_server/portal/lifecycle.py",
    description="""\
A tenant's owner turns the client portal on (`POST /api/v1/tenants/{id}/portal`): it is
`preparing` while a job installs the apps the portal reads (project, account, website_blog)
in the tenant's Odoo through the driver, then `enabled`, and the first sync is queued. When
Odoo refuses or cannot be reached it is `failed` with Odoo's error; posting again retries.
Turning it on again once enabled changes nothing.""",
)
