"""The event stream's latency and memory: commit to receipt on --subscribers open streams,
against a bare PostgreSQL LISTEN/NOTIFY round trip measured in the same run.

Run by hand (`.venv/bin/python bench/events.py [--subscribers 200 --events 1000]`); prints,
asserts nothing.

A scratch database is made on the PostgreSQL given (default: this machine's; `--postgres
embedded` starts a private one) and migrated; `saas serve` runs on it (rate limits off: every
stream comes from one address). Then:
- baseline: one connection LISTENs, another commits --events NOTIFYs; the time from each
  commit to its arrival;
- platform: a platform admin opens --subscribers streams (each waits for ``: ready``), the
  server's RSS is read before and after (memory per subscriber), and --events events are
  recorded through `events.service.emit`, one transaction each; the time from each commit to
  its arrival on every stream.
Prints p50/p99 for both, the ratio of the p99s, and memory per subscriber (aim: platform p99
under 500 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg
from _harness import SAAS, add_postgres_argument, free_port, postgres_server

from saas_server.core.db import with_database
from saas_server.core.migrations import upgrade
from saas_server.core.settings import Settings
from saas_server.events import service as events
from saas_server.users.service import create_platform_admin
from saas_server.wiring import open_runtime

SECRET_KEY = "bench-secret-key-" + "x" * 40
PASSWORD = "correct-horse-battery-staple"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def baseline(database_url: str, count: int) -> list[float]:
    """Commit-to-arrival of bare NOTIFYs on one LISTENing connection."""
    sent: dict[str, float] = {}
    arrivals: list[tuple[str, float]] = []
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as sender,
    ):
        await listener.execute("LISTEN bench_baseline")

        async def receive() -> None:
            async for notify in listener.notifies():
                arrivals.append((notify.payload, time.time()))
                if len(arrivals) == count:
                    return

        receiving = asyncio.create_task(receive())
        for n in range(count):
            await sender.execute("SELECT pg_notify('bench_baseline', %s)", (str(n),))
            sent[str(n)] = time.time()
        await asyncio.wait_for(receiving, 120)
    return [at - sent[n] for n, at in arrivals]


async def platform(
    settings: Settings, base_url: str, server_pid: int, subscribers: int, count: int
) -> tuple[list[float], float, int]:
    """Commit-to-arrival on every stream, RSS per subscriber, and events received."""
    async with open_runtime(settings) as runtime:
        async with runtime.db.transaction() as session:
            await create_platform_admin(
                session, email="bench@example.com", password=PASSWORD, full_name="Bench"
            )
        limits = httpx.Limits(max_connections=subscribers + 10)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
            login = await client.post(
                "/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            committed: dict[str, float] = {}
            arrivals: list[tuple[str, float]] = []
            ready = asyncio.Semaphore(0)

            async def subscribe() -> None:
                async with client.stream("GET", "/api/v1/events/stream", headers=headers) as r:
                    event_id = None
                    async for line in r.aiter_lines():
                        if line == ": ready":
                            ready.release()
                        elif line.startswith("id:"):
                            event_id = line[3:].strip()
                        elif line == "" and event_id is not None:
                            arrivals.append((event_id, time.time()))
                            event_id = None

            rss_before = psutil.Process(server_pid).memory_info().rss
            streams = [asyncio.create_task(subscribe()) for _ in range(subscribers)]
            for _ in range(subscribers):
                await asyncio.wait_for(ready.acquire(), 120)
            await asyncio.sleep(1)
            per_subscriber = (psutil.Process(server_pid).memory_info().rss - rss_before) / (
                subscribers
            )
            for n in range(count):
                async with runtime.db.transaction() as session:
                    event = await events.emit(session, "tenant.updated", {"n": n})
                    seq = str(event.seq)
                committed[seq] = time.time()
            deadline = time.monotonic() + 120
            while len(arrivals) < subscribers * count and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
    lags = [at - committed[seq] for seq, at in arrivals if seq in committed]
    return lags, per_subscriber, len(arrivals)


def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="saas-bench-events-"))
    name = f"bench_events_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = with_database(args.postgres, name)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        database_url=database_url,
        secret_key=SECRET_KEY,
        data_dir=workdir / "data",
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")} | {
        "SAAS_ENV": "test",
        "SAAS_DATABASE_URL": database_url,
        "SAAS_SECRET_KEY": SECRET_KEY,
        "SAAS_DATA_DIR": str(workdir / "data"),
        "SAAS_LOG_LEVEL": "WARNING",
        "SAAS_RATE_LIMIT_ENABLED": "false",
        "SAAS_ODOO_EMULATOR": "off",
    }
    proc: subprocess.Popen[bytes] | None = None
    try:
        upgrade(database_url)
        base_lags = asyncio.run(baseline(database_url, args.events))
        proc = subprocess.Popen(
            [SAAS, "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "serve.log", "wb"),
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "serve.log").read_text())
            time.sleep(0.2)
        lags, per_subscriber, arrived = asyncio.run(
            platform(settings, base_url, proc.pid, args.subscribers, args.events)
        )
        print(f"subscribers {args.subscribers}, events {args.events}")
        b50, b99 = percentile(base_lags, 0.5), percentile(base_lags, 0.99)
        p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
        print(f"baseline (bare LISTEN/NOTIFY): p50 {b50 * 1000:8.1f} ms, p99 {b99 * 1000:8.1f} ms")
        print(f"platform (SSE streams)       : p50 {p50 * 1000:8.1f} ms, p99 {p99 * 1000:8.1f} ms")
        print(f"ratio of p99 platform/baseline: {p99 / b99 if b99 else float('nan'):.1f}")
        print(f"p99 aim under 500 ms: {'met' if p99 < 0.5 else 'NOT met'}")
        print(f"memory per subscriber: {per_subscriber / 1024:.1f} KiB")
        print(f"events received: {arrived} of {args.subscribers * args.events}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    add_postgres_argument(parser)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    with postgres_server(args.postgres) as url:
        args.postgres = url
        run(args)


if __name__ == "__main__":
    main()
