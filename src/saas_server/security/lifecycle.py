"""The threat lifecycle as a transition table (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_server.core.lifecycle import Lifecycle
from saas_server.security.models import ScanStatus, ThreatStatus

T = ThreatStatus


class ThreatAction(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"  # an operator has seen it and works on it
    RESOLVE = "resolve"  # over: the next attack on the same subject is a new threat


THREAT: Lifecycle[ThreatStatus, ThreatAction] = Lifecycle(
    "threat",
    {
        (T.OPEN, ThreatAction.ACKNOWLEDGE): T.ACKNOWLEDGED,
        (T.OPEN, ThreatAction.RESOLVE): T.RESOLVED,
        (T.ACKNOWLEDGED, ThreatAction.RESOLVE): T.RESOLVED,
    },
    initial=(T.OPEN,),
    final=(T.RESOLVED,),
    source="saas_server/security/lifecycle.py",
    description="""\
The detection job files a threat `open` when a rule's threshold is crossed, and while it is
not `resolved` each run updates it (count, last sighting, severity, which only rises)
instead of filing another. Blocking its source IP (`block_ip`) changes no status.""",
)


class ScanAction(enum.StrEnum):
    START = "start"  # a worker starts the checks (again, after a killed worker)
    COMPLETE = "complete"
    FAIL = "fail"  # the tenant's Odoo could not be reached or had no instance


S = ScanStatus

SCAN: Lifecycle[ScanStatus, ScanAction] = Lifecycle(
    "security scan",
    {
        (S.PENDING, ScanAction.START): S.RUNNING,
        (S.RUNNING, ScanAction.START): S.RUNNING,
        (S.RUNNING, ScanAction.COMPLETE): S.COMPLETED,
        (S.PENDING, ScanAction.FAIL): S.FAILED,
        (S.RUNNING, ScanAction.FAIL): S.FAILED,
    },
    initial=(S.PENDING,),
    final=(S.COMPLETED, S.FAILED),
    source="saas_server/security/lifecycle.py",
    description="""\
A scan is requested `pending` with its job deferred in the same transaction (by an owner,
an admin, `saas security scan`, or the weekly schedule). A worker takes it `running`, runs
the checks against the tenant's Odoo and host (security/scans.py) and stores the findings:
`completed` (an empty list means nothing was found) or `failed` with the reason.""",
)
