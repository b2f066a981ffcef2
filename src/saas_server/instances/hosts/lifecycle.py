"""The Odoo host and standby database lifecycles as transition tables (core/lifecycle.py).

Every status change of a host or of a standby database goes through :data:`HOST` or
:data:`STANDBY` (``apply``); their diagrams in docs/ are generated from these tables.
"""

from __future__ import annotations

import enum

from saas_server.core.lifecycle import Lifecycle
from saas_server.instances.hosts.models import HostStatus, StandbyStatus

H = HostStatus
S = StandbyStatus


class HostAction(enum.StrEnum):
    # What a health check found (hosts/service.py): answers in time, answers slowly, or not.
    PASS = "pass"
    SLOW = "slow"
    FAIL = "fail"
    DRAIN = "drain"  # an operator drains it; checks keep it draining until activated


_CHECKED = {HostAction.PASS: H.HEALTHY, HostAction.SLOW: H.DEGRADED, HostAction.FAIL: H.DOWN}

HOST: Lifecycle[HostStatus, HostAction] = Lifecycle(
    "host",
    {
        **{(state, action): target for state in H for action, target in _CHECKED.items()},
        **{(state, HostAction.DRAIN): H.DRAINING for state in H},
    },
    initial=(H.DOWN,),
    source="saas_server/instances/hosts/lifecycle.py",
    description="""\
A host is registered `down` and takes the status its first health check finds; every
check after that (`saas hosts check`, the periodic one, activation) moves it again:
`healthy` when it answers in time, `degraded` when slowly, `down` when not. A draining
host (`POST /api/v1/hosts/{id}/actions`, `drain`) stays `draining`, whatever its checks find, until
it is activated; only `healthy` and `degraded` hosts that are not draining take new
tenants.""",
)


class StandbyAction(enum.StrEnum):
    PREPARED = "prepared"  # cloned, its own admin password written and proven by a login
    CLAIM = "claim"  # provisioning takes it for an instance
    DROP = "drop"  # unwanted (pool shrunk, host draining, its instance deleted) or failed


STANDBY: Lifecycle[StandbyStatus, StandbyAction] = Lifecycle(
    "standby database",
    {
        (S.PREPARING, StandbyAction.PREPARED): S.READY,
        (S.PREPARING, StandbyAction.DROP): S.DROPPING,
        (S.READY, StandbyAction.CLAIM): S.CLAIMED,
        (S.READY, StandbyAction.DROP): S.DROPPING,
        (S.CLAIMED, StandbyAction.DROP): S.DROPPING,
    },
    initial=(S.PREPARING,),
    source="saas_server/instances/hosts/lifecycle.py",
    description="""\
The row is written `preparing` before the database is cloned, so a worker killed at any
step leaves a row the next run of the pool job finishes or drops. A `claimed` standby's
row goes once its instance is ready (the database is the tenant's now); a `dropping`
one's once the database is dropped. See docs/decisions/0003-standby-databases.md.""",
)
