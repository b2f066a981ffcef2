"""The move job: its name, its queue, and the lock it shares with backups and restores."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.backups.jobs import instance_lock
from saas_server.core.jobs import defer
from saas_server.moves.models import Move

MOVE_TASK = "moves.run"
QUEUE = "backups"


async def defer_move(session: AsyncSession, move: Move) -> None:
    # The instance's lock: a backup or restore of it and its move never run at once.
    await defer(
        session, MOVE_TASK, queue=QUEUE, lock=instance_lock(move.instance_id), move_id=str(move.id)
    )
