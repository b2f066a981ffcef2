"""The periodic checkpoint of the audit chain's head (audit/checkpoints.py)."""

from __future__ import annotations

import procrastinate

from saas_server.audit import checkpoints
from saas_server.core.jobs import jobs_app, runtime_of

CHECKPOINT_AUDIT_TASK = "audit.checkpoint"


@jobs_app.task(name=CHECKPOINT_AUDIT_TASK, queue="maintenance", pass_context=True)
async def checkpoint_audit_chain(context: procrastinate.JobContext) -> None:
    runtime = runtime_of(context)
    checkpoint_file = checkpoints.CheckpointFile.of(runtime)
    async with runtime.db.sessionmaker() as session:
        # One snapshot for the walk while appends go on.
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await checkpoints.checkpoint(session, checkpoint_file)
