"""The move lifecycle as a transition table (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_server.core.lifecycle import Lifecycle
from saas_server.moves.models import MoveStatus

M = MoveStatus


class MoveAction(enum.StrEnum):
    START = "start"  # a worker runs the flow (again, after a killed worker)
    COMPLETE = "complete"  # the source copy is dropped: the tenant lives on the target
    FAIL = "fail"  # a step failed; rolled back to the source unless past the switch
    RETRY = "retry"  # an operator runs a failed move again


MOVE: Lifecycle[MoveStatus, MoveAction] = Lifecycle(
    "move",
    {
        (M.PENDING, MoveAction.START): M.RUNNING,
        (M.RUNNING, MoveAction.START): M.RUNNING,
        (M.RUNNING, MoveAction.COMPLETE): M.COMPLETED,
        (M.PENDING, MoveAction.FAIL): M.FAILED,
        (M.RUNNING, MoveAction.FAIL): M.FAILED,
        (M.FAILED, MoveAction.RETRY): M.PENDING,
    },
    initial=(M.PENDING,),
    final=(M.COMPLETED,),
    user_actions=(MoveAction.RETRY,),
    source="saas_server/moves/lifecycle.py",
    description="""\
A platform admin asks for a move with `POST /api/v1/admin/tenants/{id}/actions`
(`{"action": "migrate", "target_host_id": ...}`); a job runs the move flow
(precopy while the source serves -> close_source -> catch_up, or dump -> restore when only a
whole copy will do -> verify -> switch -> reopen -> drop_source). A step that
fails before the source copy is dropped puts the tenant back on the source host and marks
the move `failed`; a failure of `drop_source` leaves the tenant on the target and the move
`failed` with the drop still to do. `POST /api/v1/admin/moves/{id}/actions` with
`retry` runs a failed move again (from the start, or only the drop).
See docs/decisions/0013-tenant-moves.md and
docs/decisions/0031-move-precopy-and-table-catch-up.md.""",
)
