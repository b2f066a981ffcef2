"""Jobs are deferred in the caller's transaction: they exist exactly when the change does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.mail.service import Mail, queue_mail
from saas_server.users.models import User
from tests.fixtures.smtp import Inbox


async def _job_count(runtime: Runtime) -> int:
    async with runtime.db.engine.connect() as conn:
        return int(
            (await conn.execute(text("SELECT count(*) FROM procrastinate_jobs"))).scalar_one()
        )


async def test_rolled_back_transaction_leaves_no_job(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.db.transaction() as session:
            session.add(User(email="ghost@example.com", full_name="Ghost"))
            await queue_mail(session, runtime.secrets, Mail("ghost@example.com", "Hi", "Body"))
            raise RuntimeError("the request failed after deferring")
    assert await _job_count(runtime) == 0
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 0


async def test_committed_job_runs_and_sends(runtime: Runtime, inbox: Inbox) -> None:
    async with runtime.db.transaction() as session:
        await queue_mail(session, runtime.secrets, Mail("x@example.com", "Hello", "Body text"))
    assert await _job_count(runtime) == 1
    await runtime.run_pending_jobs()
    mail = await inbox.wait_for("x@example.com")
    assert mail.subject == "Hello"
    assert mail.text.strip() == "Body text"


async def test_mail_job_arguments_do_not_hold_the_message_in_clear(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        await queue_mail(
            session, runtime.secrets, Mail("y@example.com", "Reset", "token=SECRET-TOKEN-123")
        )
    async with runtime.db.engine.connect() as conn:
        args = (await conn.execute(text("SELECT args::text FROM procrastinate_jobs"))).scalar_one()
    assert "SECRET-TOKEN-123" not in args
    assert "y@example.com" not in args


async def test_unknown_task_is_refused(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        with pytest.raises(LookupError):
            await defer(session, "no.such.task")


async def test_deferring_under_a_held_queueing_lock_is_a_no_op(runtime: Runtime) -> None:
    # The maintenance tasks are registered with no arguments: any of them serves here.
    from saas_server.instances.hosts.jobs import CHECK_HOSTS_TASK

    async with runtime.db.transaction() as session:
        first = await defer(session, CHECK_HOSTS_TASK, queueing_lock="held")
    async with runtime.db.transaction() as session:
        again = await defer(session, CHECK_HOSTS_TASK, queueing_lock="held")
        # The surrounding transaction is still usable and commits its other work.
        session.add(User(email="after@example.com", full_name="After"))
    assert again == first
    assert await _job_count(runtime) == 1
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 1


async def test_a_dead_workers_job_whose_queueing_lock_is_held_again_is_superseded(
    runtime: Runtime,
) -> None:
    # Found by the crash soak: a worker killed inside a job whose queueing lock a new job
    # then took; retrying the dead one stopped the next worker at start, for good.
    from saas_server.instances.hosts.jobs import TEND_STANDBY_POOLS_TASK

    async with runtime.db.transaction() as session:
        dead = await defer(session, TEND_STANDBY_POOLS_TASK, queueing_lock="pools")
    async with runtime.db.engine.begin() as conn:
        # Running on a worker that is gone (no worker row: stalled at once).
        await conn.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": dead}
        )
    async with runtime.db.transaction() as session:
        waiting = await defer(session, TEND_STANDBY_POOLS_TASK, queueing_lock="pools")
    assert waiting != dead

    assert await runtime.retry_stalled_jobs() == 1
    async with runtime.db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, status::text FROM procrastinate_jobs"))
        statuses = dict(rows.all())
    assert statuses == {dead: "aborted", waiting: "todo"}
