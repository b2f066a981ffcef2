"""Time of one page of `GET /api/v1/audit/logs` filtered by tenant and date, with 10,000
tenants and 200,000 audit entries, as a ratio of the same page on a table of 1,000 entries.

Run by hand (`.venv/bin/python bench/lists.py`); prints, asserts nothing. Both databases
live on the same server (the one of SAAS_DATABASE_URL, which must allow CREATE DATABASE,
or an embedded PostgreSQL in a temporary directory) and are measured in the same run,
interleaved, through the ASGI app in-process, so the ratio holds whatever the machine.
The tenant asked for has the same entries in both, so both pages hold the same rows: only
the size of the table differs. Aim: under 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from saas_server.app import create_app
from saas_server.audit import service as audit
from saas_server.core.db import with_database
from saas_server.core.embedded_postgres import EmbeddedPostgres
from saas_server.core.migrations import upgrade
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.users.service import create_platform_admin
from saas_server.wiring import build_runtime

SECRET_KEY = "bench-secret-key-" + "x" * 40
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "benchmark-passphrase-42"
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
# The measured tenant's entries, the same in both databases: one every 3.65 days.
TARGET_ENTRIES = 100
# About 25 of them fall in this quarter, so the first page (20) is full in both.
DATE_FROM, DATE_TO = "2025-04-01", "2025-06-30"
AUDIT_COLUMNS = (
    "id", "timestamp", "user_id", "tenant_id", "action", "resource_type", "resource_id",
    "old_values", "new_values", "ip_address", "user_agent", "request_id", "prev_hash", "hash",
)  # fmt: skip
ACTIONS = ("tenant.updated", "member.added", "member.role_changed", "auth.login", "tenant.created")


@dataclass
class Dataset:
    name: str
    url: str
    target_tenant: uuid.UUID


@contextmanager
def postgres_server() -> Iterator[str]:
    """A server where databases may be created: SAAS_DATABASE_URL's, or an embedded one."""
    external = os.environ.get("SAAS_DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="saas-bench-lists-"))
    server = EmbeddedPostgres(root / "pgdata")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(with_database(server_url, "postgres"), autocommit=True)


def create_database(server_url: str, name: str) -> str:
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    upgrade(url)
    return url


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def load(url: str, *, tenants: int, entries: int, seed: int) -> uuid.UUID:
    """``tenants`` tenants and ``entries`` chained audit entries; returns the measured tenant."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    owner_id = uuid.uuid4()
    tenant_ids = [uuid.uuid4() for _ in range(tenants)]
    target = tenant_ids[0]
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO users (id, email, full_name, first_name, last_name, role, "
            "created_at, updated_at) VALUES (%s, 'bench-owner@example.com', 'Owner', "
            "'Owner', '', 'user', %s, %s)",
            (owner_id, now, now),
        )
        with conn.cursor().copy(
            "COPY tenants (id, name, subdomain, tier, status, owner_id, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for n, tenant_id in enumerate(tenant_ids):
                copy.write_row(
                    (tenant_id, f"Tenant {n}", f"t{n:05d}", "starter", "active", owner_id, now, now)
                )

        # The measured tenant's entries at fixed moments; the others at random ones. Sorted,
        # so the chain (seq order) also runs in time order, as live appends would.
        step = YEAR / TARGET_ENTRIES
        planned = [(YEAR_START + k * step, target) for k in range(TARGET_ENTRIES)]
        others = tenant_ids[1:] or tenant_ids
        planned += [
            (YEAR_START + YEAR * rng.random(), rng.choice(others))
            for _ in range(entries - TARGET_ENTRIES)
        ]
        planned.sort(key=lambda item: item[0])
        prev_hash = audit.GENESIS_HASH
        with conn.cursor().copy(
            sql.SQL("COPY audit_log ({}) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, AUDIT_COLUMNS))
            )
        ) as copy:
            for n, (moment, tenant_id) in enumerate(planned):
                fields = {
                    "id": uuid.uuid4(),
                    "timestamp": moment,
                    "user_id": owner_id,
                    "tenant_id": tenant_id,
                    "action": ACTIONS[n % len(ACTIONS)],
                    "resource_type": "tenant",
                    "resource_id": str(tenant_id),
                    "old_values": {"name": f"before {n}"},
                    "new_values": {"name": f"after {n}", "n": n},
                    "ip_address": "192.0.2.1",
                    "user_agent": "bench/1.0",
                    "request_id": uuid.uuid4().hex,
                    "prev_hash": prev_hash,
                }
                fields["hash"] = prev_hash = audit.entry_hash(fields)
                copy.write_row(
                    [
                        json.dumps(fields[c]) if c.endswith("_values") else fields[c]
                        for c in AUDIT_COLUMNS
                    ]
                )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tenants")
        conn.execute("VACUUM ANALYZE audit_log")
    return target


def open_runtime(url: str, data_dir: Path) -> Runtime:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        secret_key=SECRET_KEY,
        data_dir=data_dir,
        log_level="WARNING",
        log_format="text",
        database_pool_size=4,
    )
    return build_runtime(settings, database_url=url, secret_key=SECRET_KEY)


async def admin_client(runtime: Runtime) -> tuple[httpx.AsyncClient, dict[str, str]]:
    async with runtime.db.transaction() as session:
        await create_platform_admin(
            session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, full_name="Bench Admin"
        )
    app = create_app(runtime.settings, runtime=runtime)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    login = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    login.raise_for_status()
    return client, {"Authorization": f"Bearer {login.json()['access_token']}"}


async def page_seconds(
    client: httpx.AsyncClient, headers: dict[str, str], tenant_id: uuid.UUID
) -> tuple[float, dict[str, object]]:
    params = {"tenant_id": str(tenant_id), "date_from": DATE_FROM, "date_to": DATE_TO}
    started = time.perf_counter()
    response = await client.get("/api/v1/audit/logs", params=params, headers=headers)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


async def measure(sets: list[Dataset], rounds: int, workdir: Path) -> None:
    runtimes = [open_runtime(d.url, workdir / d.name) for d in sets]
    clients = [await admin_client(rt) for rt in runtimes]
    timings: list[list[float]] = [[] for _ in sets]
    try:
        pages = []
        for (client, headers), dataset in zip(clients, sets, strict=True):
            for _ in range(5):  # warm-up: connections, plans, caches
                _, body = await page_seconds(client, headers, dataset.target_tenant)
            pages.append(body)
        for _ in range(rounds):
            for i, ((client, headers), dataset) in enumerate(zip(clients, sets, strict=True)):
                elapsed, _ = await page_seconds(client, headers, dataset.target_tenant)
                timings[i].append(elapsed)
        for dataset, body, times in zip(sets, pages, timings, strict=True):
            results = body["results"]
            assert isinstance(results, list)
            print(
                f"{dataset.name:<6} page: {statistics.median(times) * 1000:7.2f} ms "
                f"(median of {rounds}; count {body['count']}, {len(results)} on the page)"
            )
        small, large = (statistics.median(t) for t in timings)
        print(f"ratio large/small: {large / small:6.2f}   (aim: < 2)")

        # How long `saas audit verify` walks the big chain (same function as the CLI).
        async with runtimes[-1].db.sessionmaker() as session:
            started = time.perf_counter()
            report = await audit.verify_chain(session)
            elapsed = time.perf_counter() - started
        state = "intact" if report.broken is None else f"BROKEN at seq {report.broken.seq}"
        print(f"verify_chain: {report.checked} entries in {elapsed:.1f} s, chain {state}")
    finally:
        for client, _ in clients:
            await client.aclose()
        for rt in runtimes:
            await rt.close()


def main(tenants: int, entries: int, small_entries: int, rounds: int) -> None:
    suffix = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="saas-bench-lists-data-"))
    with postgres_server() as server:
        names: list[str] = []
        try:
            sets = []
            for label, n_tenants, n_entries in (
                ("small", max(1, small_entries // 20), small_entries),
                ("large", tenants, entries),
            ):
                name = f"saas_bench_lists_{label}_{suffix}"
                url = create_database(server, name)
                names.append(name)
                started = time.perf_counter()
                target = load(url, tenants=n_tenants, entries=n_entries, seed=42)
                print(
                    f"{label:<6} {n_tenants:>6} tenants, {n_entries:>7} entries "
                    f"loaded in {time.perf_counter() - started:.1f} s"
                )
                sets.append(Dataset(label, url, target))
            asyncio.run(measure(sets, rounds, workdir))
        finally:
            for name in names:
                drop_database(server, name)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--small-entries", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    main(args.tenants, args.entries, args.small_entries, args.rounds)
