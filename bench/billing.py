"""One renewal run over many due subscriptions: time per subscription, and how it scales.

Run by hand (`.venv/bin/python bench/billing.py [--sizes 1000 10000]`); prints, asserts
nothing. On the embedded PostgreSQL by default (a scratch data dir), or SAAS_DATABASE_URL.
For each size, that many tenants with an active monthly subscription whose period ended
are inserted in bulk, then `billing.renewals.run_renewals` runs once (in batches of
`BATCH_SIZE` per transaction: each renewal prepared and charged through the manual provider
on its own, then the batch's invoices numbered and written, its events, mails, tier jobs and
audit entries in bulk; decision 0028), and the rows are removed again.
Each size also times one trivial statement per subscription in the same run (the baseline:
what the machine's load makes of a round trip), and prints how many of those a renewal costs.
The sizes run up and the smaller ones down again (each run leaves events, audit entries and
jobs behind, so later runs meet bigger tables); each size's time is the mean of its runs.
Aim: under 1 ms per subscription; ratio of the largest size's time to the smallest's no
more than their size ratio plus 10 % (linear).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select, text

from saas_server.billing.models import Invoice, Plan, Subscription
from saas_server.billing.renewals import run_renewals
from saas_server.core.settings import Settings
from saas_server.tenants.models import Tenant
from saas_server.wiring import open_runtime


async def one_run(runtime: object, size: int) -> float:
    db = runtime.db  # type: ignore[attr-defined]
    ended = datetime.now(UTC) - timedelta(hours=1)
    async with db.transaction() as session:
        plan_id = (
            await session.execute(select(Plan.id).where(Plan.code == "starter"))
        ).scalar_one()
        tenant_ids = [uuid.uuid4() for _ in range(size)]
        now = datetime.now(UTC)
        await session.execute(
            insert(Tenant),
            [
                {
                    "id": tid,
                    "name": f"Bench {i}",
                    "subdomain": f"bench{uuid.uuid4().hex[:12]}",
                    "tier": "starter",
                    "status": "ready",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, tid in enumerate(tenant_ids)
            ],
        )
        await session.execute(
            insert(Subscription),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tid,
                    "plan_id": plan_id,
                    "status": "active",
                    "billing_cycle": "monthly",
                    "max_users": 5,
                    "start_date": ended - timedelta(days=31),
                    "current_period_start": ended - timedelta(days=31),
                    "current_period_end": ended,
                    "created_at": now,
                    "updated_at": now,
                }
                for tid in tenant_ids
            ],
        )
    # Statistics as autovacuum keeps them on a platform whose subscriptions came one by one:
    # without them the planner, seeing a table it knows nothing of, reads every tenant to
    # find a batch's hundred (a cost of the bench's bulk insert, not of renewals).
    async with db.transaction() as session:
        await session.execute(text("ANALYZE tenants, subscriptions"))
    started = time.perf_counter()
    report = await run_renewals(runtime)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    assert report.renewed == size, report
    async with db.transaction() as session:
        await session.execute(delete(Invoice).where(Invoice.tenant_id.in_(tenant_ids)))
        await session.execute(delete(Tenant).where(Tenant.id.in_(tenant_ids)))
    return seconds


async def one_statement_each(runtime: object, size: int) -> float:
    """The baseline, measured in the same run: one round trip per subscription (what the
    machine's load makes of a single trivial statement), in one transaction."""
    db = runtime.db  # type: ignore[attr-defined]
    started = time.perf_counter()
    async with db.transaction() as session:
        for _ in range(size):
            await session.execute(select(1))
    return time.perf_counter() - started


async def main(sizes: list[int]) -> None:
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="saas-bench-billing-")))
    sizes = sorted(set(sizes))
    # Each run leaves its events, audit entries and jobs behind, so a later run meets bigger
    # tables: the sizes are run up, then the smaller ones down again, and each size's time is
    # the mean of its runs, so the drift does not count against the largest.
    order = sizes + sizes[-2::-1]
    async with open_runtime(settings, migrate=True) as runtime:
        await one_run(runtime, min(sizes[0], 100))  # warm-up
        runs: dict[int, list[float]] = {size: [] for size in sizes}
        for size in order:
            seconds = await one_run(runtime, size)
            baseline = await one_statement_each(runtime, size)
            runs[size].append(seconds)
            print(
                f"{size:>7} due: {seconds:8.2f} s, {seconds / size * 1000:7.3f} ms each; "
                f"one statement each: {baseline / size * 1000:6.3f} ms; "
                f"a renewal costs {seconds / baseline:5.2f} statements' time"
            )
        timings = {size: sum(times) / len(times) for size, times in runs.items()}
        for size in sizes:
            each = timings[size] / size * 1000
            print(f"{size:>7} due, mean of {len(runs[size])}: {each:.3f} ms each")
        small, large = sizes[0], sizes[-1]
        if small != large:
            print(
                f"ratio {large}/{small}: {timings[large] / timings[small]:.2f} "
                f"(size ratio {large / small:.0f}; linear is at most {large / small * 1.1:.1f})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    asyncio.run(main(parser.parse_args().sizes))
