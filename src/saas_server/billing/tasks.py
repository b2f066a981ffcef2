"""Billing's jobs."""

from __future__ import annotations

import uuid

import procrastinate

from saas_server.billing.renewals import RUN_RENEWALS_TASK, run_renewals
from saas_server.billing.seats import SYNC_SEATS_TASK, sync_seats
from saas_server.core.jobs import jobs_app, runtime_of


@jobs_app.task(name=SYNC_SEATS_TASK, queue="provisioning", pass_context=True)
async def sync_subscription_seats(
    context: procrastinate.JobContext, *, subscription_id: str
) -> None:
    await sync_seats(runtime_of(context), uuid.UUID(subscription_id))


@jobs_app.task(name=RUN_RENEWALS_TASK, queue="maintenance", pass_context=True)
async def run_due_renewals(context: procrastinate.JobContext) -> None:
    await run_renewals(runtime_of(context))
