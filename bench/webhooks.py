"""Webhook fan-out throughput and lag: the platform's delivery path against a bare httpx loop.

Run by hand (`.venv/bin/python bench/webhooks.py [--events 10000 --receivers 10]`); prints,
asserts nothing.

A scratch database is made on the PostgreSQL given (default: this machine's; `--postgres
embedded` starts a private one) and migrated;
--receivers receivers listen on loopback in a child process (raw asyncio HTTP, 200 to
everything) and note when each message arrives. Then, in the same run:
- baseline: a bare `httpx` loop posting the same signed bodies to the same receivers, with as
  many requests in flight as the workers run jobs at once;
- platform: one endpoint per receiver (events ["*"]), --events events recorded through
  `events.service.emit` (so each event's transaction asks for the fan-out job, joining the
  one that waits: decision 0037), and --workers `saas worker` processes delivering them.
Prints deliveries per second for both, their ratio (platform / baseline; aim at least 0.5),
the p50/p99 lag from an event's record to its receipt (aim: p99 under 2 s) and, for a
burst, the bare loop's own p50/p99 lag (the floor). While the platform delivers, a line on
stderr every 30 s says how far it got (the issue's 10,000 events make 100,000 deliveries).

A burst's lag is its queue: the last of N deliveries waits about N / rate, whatever the
code (10,000 deliveries at the bare loop's own rate are tens of seconds). `--rate R` emits R
events a second instead, one a transaction, for the lag of a steady flow below capacity.
`--outage` measures retries instead: the receivers answer 503 (Retry-After an hour) to every
first attempt; once all have failed they are back, every parked delivery is made due at once
(the clock moved, as the tests do), and the platform's rate is that of draining the retries
(a receiver back after an outage; decision 0037).
`--profile` runs the workers under pyinstrument (install it into the venv) and names the
reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from _harness import SAAS, add_postgres_argument, free_port, postgres_server
from sqlalchemy import text

from saas_server.core.db import with_database
from saas_server.core.migrations import upgrade
from saas_server.core.settings import Settings
from saas_server.events import service as events
from saas_server.users.models import User
from saas_server.webhooks.schemas import EndpointCreate
from saas_server.webhooks.service import WebhookService
from saas_server.webhooks.signing import new_secret, signed_headers
from saas_server.wiring import open_runtime

SECRET_KEY = "bench-secret-key-" + "x" * 40

# The receivers: one process, one port each; each arrival's webhook-id and wall time are
# written to a file when told to stop (SIGTERM).
RECEIVERS = r"""
import asyncio, json, signal, sys, time

ports = [int(p) for p in sys.argv[2:]]
out = sys.argv[1]
arrivals = []
# SIGUSR1: down (503, come back in an hour, not recorded); SIGUSR2: back.
down = False

def set_down(value):
    global down
    down = value

async def handle(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            length, msg_id = 0, ""
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b""):
                    break
                name, _, value = header.decode().partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "webhook-id":
                    msg_id = value.strip()
            await reader.readexactly(length)
            if down:
                writer.write(
                    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 3600\r\n"
                    b"content-length: 4\r\n\r\ndown"
                )
                await writer.drain()
                continue
            arrivals.append((msg_id, time.time()))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()

async def main():
    servers = [await asyncio.start_server(handle, "127.0.0.1", p, backlog=1024) for p in ports]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, set_down, True)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, set_down, False)
    print("ready", flush=True)
    await stop.wait()
    for s in servers:
        s.close()
    with open(out, "w") as f:
        json.dump(arrivals, f)

asyncio.run(main())
"""


def start_receivers(count: int, out: Path) -> tuple[subprocess.Popen[str], list[int]]:
    ports = [free_port() for _ in range(count)]
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVERS, str(out), *map(str, ports)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc, ports


def stop_receivers(proc: subprocess.Popen[str], out: Path) -> list[tuple[str, float]]:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return [(m, t) for m, t in json.loads(out.read_text())]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def baseline(
    ports: list[int], events_count: int, in_flight: int
) -> tuple[float, list[float]]:
    """Deliveries per second of a bare httpx loop: the same bodies, signed, same fan-out; and
    each delivery's lag from the loop's start (every body is ready then: a burst's floor)."""
    secret = new_secret()
    bodies = [
        json.dumps({"type": "tenant.updated", "timestamp": "", "data": {"n": n}}).encode()
        for n in range(events_count)
    ]
    semaphore = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=in_flight), trust_env=False
    ) as client:

        async def post(port: int, n: int) -> None:
            async with semaphore:
                headers = signed_headers(f"base-{n}-{port}", bodies[n], [secret], datetime.now(UTC))
                response = await client.post(
                    f"http://127.0.0.1:{port}/hook", content=bodies[n], headers=headers
                )
                assert response.status_code == 200
                lags.append(time.perf_counter() - started)

        lags: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(*(post(port, n) for n in range(events_count) for port in ports))
        return events_count * len(ports) / (time.perf_counter() - started), lags


async def platform(
    database_url: str,
    ports: list[int],
    events_count: int,
    workers: int,
    concurrency: int,
    workdir: Path,
    profile: bool = False,
    rate: float = 0.0,
    receivers: subprocess.Popen[str] | None = None,
) -> tuple[float, dict[str, float]]:
    """Deliveries per second of the platform, and each event's record time (wall clock)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        database_url=database_url,
        secret_key=SECRET_KEY,
        data_dir=workdir / "data",
        webhooks_allow_private=True,
    )
    recorded: dict[str, float] = {}
    async with open_runtime(settings) as runtime:
        async with runtime.db.transaction() as session:
            admin = User(email="bench@example.com", full_name="Bench", role="admin")
            session.add(admin)
            await session.flush()
            service = WebhookService(session, runtime)
            for port in ports:
                await service.create(
                    admin, EndpointCreate(url=f"http://127.0.0.1:{port}/hook", events=["*"])
                )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_")} | {
            "SAAS_ENV": "test",
            "SAAS_DATABASE_URL": database_url,
            "SAAS_SECRET_KEY": SECRET_KEY,
            "SAAS_DATA_DIR": str(workdir / "data"),
            "SAAS_WEBHOOKS_ALLOW_PRIVATE": "true",
            "SAAS_LOG_LEVEL": "WARNING",
            "SAAS_WORKER_CONCURRENCY": str(concurrency),
        }

        # --profile: each worker runs under pyinstrument (install it into the venv first);
        # its report is written to workdir/worker<i>.profile.txt when the worker stops.
        def command(i: int) -> list[str]:
            if not profile:
                return [SAAS, "worker"]
            report = str(workdir / f"worker{i}.profile.txt")
            return [
                sys.executable,
                "-m",
                "pyinstrument",
                "-r",
                "text",
                "-o",
                report,
                SAAS,
                "worker",
            ]

        procs = [
            subprocess.Popen(
                command(i),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(workdir / f"worker{i}.log", "wb"),
            )
            for i in range(workers)
        ]
        try:
            # Every worker up and listening (a loaded machine takes seconds to import one):
            # the first events' lag is the platform's, not the workers' start-up.
            while True:
                async with runtime.db.sessionmaker() as session:
                    up = (
                        await session.execute(text("SELECT count(*) FROM procrastinate_workers"))
                    ).scalar_one()
                if up >= workers:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            if receivers is not None:
                receivers.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.5)
            started = time.perf_counter()
            # A burst: 50 events a transaction, as fast as they go. With --rate: one event
            # a transaction, that many a second (the lag of a steady flow, not of a queue).
            batch = 1 if rate else 50
            for first in range(0, events_count, batch):
                if rate:
                    await asyncio.sleep(max(0.0, started + first / rate - time.perf_counter()))
                async with runtime.db.transaction() as session:
                    made = []
                    for n in range(first, min(first + batch, events_count)):
                        made.append(await events.emit(session, "tenant.updated", {"n": n}))
                recorded.update({str(e.id): time.time() for e in made})
            expected = events_count * len(ports)
            if receivers is not None:
                # --outage: every first attempt made (and parked for an hour), then the
                # receivers are back and every parked delivery is due at once.
                while True:
                    async with runtime.db.sessionmaker() as session:
                        tried = (
                            await session.execute(
                                text(
                                    "SELECT count(*) FROM webhook_deliveries"
                                    " WHERE attempt_count >= 1"
                                )
                            )
                        ).scalar_one()
                    if tried >= expected:
                        break
                    await asyncio.sleep(0.2)
                receivers.send_signal(signal.SIGUSR2)
                await asyncio.sleep(0.5)
                async with runtime.db.transaction() as session:
                    await session.execute(
                        text(
                            "UPDATE webhook_deliveries SET next_attempt_at = now()"
                            " WHERE status = 'pending'"
                        )
                    )
                started = time.perf_counter()
            next_report = time.perf_counter() + 30
            while True:
                async with runtime.db.sessionmaker() as session:
                    done = (
                        await session.execute(
                            text(
                                "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
                            )
                        )
                    ).scalar_one()
                if done >= expected:
                    break
                if time.perf_counter() >= next_report:
                    next_report += 30
                    elapsed = time.perf_counter() - started
                    print(
                        f"  {done} of {expected} delivered after {elapsed:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                await asyncio.sleep(0.2)
            rate = expected / (time.perf_counter() - started)
            async with runtime.db.sessionmaker() as session:
                failures = (
                    await session.execute(
                        text(
                            "SELECT coalesce(error, status_code::text), count(*)"
                            " FROM webhook_attempts WHERE status_code IS NULL"
                            " OR status_code >= 300 GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
                        )
                    )
                ).all()
                # How many jobs the delivery took, by task (decision 0037: a batch job takes
                # whatever waits, so a steady flow need not queue one per event).
                jobs = (
                    await session.execute(
                        text(
                            "SELECT task_name, count(*) FROM procrastinate_jobs"
                            " WHERE queue_name = 'webhooks' GROUP BY 1 ORDER BY 1"
                        )
                    )
                ).all()
            for reason, count in failures:
                print(f"failed attempts: {count} x {reason}")
            print("jobs: " + ", ".join(f"{task} {count}" for task, count in jobs))
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
    return rate, recorded


def main() -> None:
    parser = argparse.ArgumentParser()
    add_postgres_argument(parser)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--receivers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="run the workers under pyinstrument")
    parser.add_argument(
        "--outage",
        action="store_true",
        help="measure retries: every first attempt fails, then every retry is due at once",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="events per second, one per transaction (default: a burst, as fast as they go)",
    )
    args = parser.parse_args()
    with postgres_server(args.postgres) as url:
        args.postgres = url
        run(args)


def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="saas-bench-webhooks-"))
    name = f"bench_webhooks_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = with_database(args.postgres, name)
    try:
        upgrade(database_url)
        out = workdir / "arrivals.json"
        receivers, ports = start_receivers(args.receivers, out)
        try:
            base_rate, base_lags = asyncio.run(
                baseline(ports, args.events, args.workers * args.concurrency)
            )
            rate, recorded = asyncio.run(
                platform(
                    database_url,
                    ports,
                    args.events,
                    args.workers,
                    args.concurrency,
                    workdir,
                    args.profile,
                    args.rate,
                    receivers if args.outage else None,
                )
            )
        finally:
            arrivals = stop_receivers(receivers, out)
        lags = [t - recorded[m] for m, t in arrivals if m in recorded]
        shape = f"workers {args.workers} x {args.concurrency}"
        if args.outage:
            shape += ", retries after an outage (all due at once)"
        if args.rate:
            shape += f", {args.rate:g} events/s"
        print(f"events {args.events}, receivers {args.receivers}, {shape}")
        print(f"baseline (bare httpx loop): {base_rate:10.1f} deliveries/s")
        print(f"platform                  : {rate:10.1f} deliveries/s")
        print(f"ratio platform/baseline   : {rate / base_rate:10.2f}   (aim >= 0.5)")
        p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
        if not args.outage:
            print(f"lag p50 {p50:.3f} s, p99 {p99:.3f} s   (aim p99 < 2 s)")
        if not args.rate and not args.outage:
            b50, b99 = percentile(base_lags, 0.5), percentile(base_lags, 0.99)
            print(
                f"baseline lag p50 {b50:.3f} s, p99 {b99:.3f} s   (the burst's floor at its rate)"
            )
        print(f"deliveries received: {len(lags)} of {args.events * args.receivers}")
        if args.profile:
            print(f"worker profiles: {workdir}/worker*.profile.txt")
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
