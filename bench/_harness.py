"""Shared benchmark plumbing: run `saas serve` in a scratch dir and load it over keep-alive."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from saas_server.core.embedded_postgres import EmbeddedPostgres

SAAS = str(Path(sys.executable).parent / "saas")


def add_postgres_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help='a server URL, or "embedded" for a private embedded PostgreSQL',
    )


@contextmanager
def postgres_server(url: str) -> Iterator[str]:
    """The server ``--postgres`` names; ``embedded`` starts a private one for the run (a shared
    server may have other users' jobs, sweeps and test clean-ups on it)."""
    if url != "embedded":
        yield url
        return
    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="saas-bench-pg-")) / "pgdata")
    try:
        yield server.start()
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    workdir: Path  # the server's working directory; its data dir is workdir/.saas-data


@contextmanager
def serve(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start `saas serve` (embedded PostgreSQL unless SAAS_DATABASE_URL is set) in a scratch
    directory and yield it."""
    workdir = Path(tempfile.mkdtemp(prefix="saas-bench-"))
    port = free_port()
    env = {**os.environ, "SAAS_LOG_LEVEL": "WARNING", **(extra_env or {})}
    log = open(workdir / "serve.log", "wb")
    proc = subprocess.Popen(
        [SAAS, "serve", "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError((workdir / "serve.log").read_text())
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield Server(base, workdir)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


async def _worker(
    port: int, request: bytes, stop_at: float, counts: list[int], statuses: set[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.perf_counter() < stop_at:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            statuses.add(int(status_line.split()[1]))
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            done += 1
    finally:
        counts.append(done)
        writer.close()


async def requests_per_second(
    base_url: str, path: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, set[int]]:
    """Closed-loop load over keep-alive connections; a raw client keeps its own cost small."""
    port = int(base_url.rsplit(":", 1)[1])
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
    counts: list[int] = []
    statuses: set[int] = set()
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(
        *(_worker(port, request, stop_at, counts, statuses) for _ in range(concurrency))
    )
    return sum(counts) / (time.perf_counter() - start), statuses
