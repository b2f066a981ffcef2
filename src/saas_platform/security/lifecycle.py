"""The threat lifecycle as a transition table (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_platform.core.lifecycle import Lifecycle
from saas_platform.security.models import ThreatStatus

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
    source="saas_platform/security/lifecycle.py",
    description="""\
The detection job files a threat `open` when a rule's threshold is crossed, and while it is
not `resolved` each run updates it (count, last sighting, severity, which only rises)
instead of filing another. Blocking its source IP (`block_ip`) changes no status.""",
)
