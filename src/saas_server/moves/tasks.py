from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.moves import flows
from saas_server.moves.jobs import MOVE_TASK, QUEUE


@jobs_app.task(name=MOVE_TASK, queue=QUEUE, pass_context=True)
async def run_move(context: procrastinate.JobContext, *, move_id: str) -> None:
    # The outcome, failed included, is recorded on the move row; a killed worker's job is
    # retried by the stalled-job sweep and resumes from the last recorded step.
    await flows.run_move(runtime_of(context), uuid.UUID(move_id))
