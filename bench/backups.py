"""Backup speed and memory: the platform's archive path against `pg_dump | gzip`.

Run by hand (`.venv/bin/python bench/backups.py`); prints, asserts nothing.

An Odoo emulator is started on the PostgreSQL given (default: this machine's), tenant
databases of about --size-mb megabytes are made (table rows plus filestore files), and then
for each:
- baseline: `pg_dump --no-owner | gzip` of the same database, to /dev/null;
- platform: the backup worker's path (`flows.archive_to_storage`: the host's archive
  streamed through the zip check into local storage, hashed on the way), in a child
  process that reports its own peak RSS.
Aim: throughput ratio (baseline seconds / platform seconds) 0.8 or more; worker peak
memory under 150 MB and flat across sizes (compare the 50 and 200 MB lines).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from _harness import SAAS, free_port

from saas_server.core.db import with_database

CHILD = """
import asyncio, resource, sys, time
from pathlib import Path
from saas_server.backups.flows import archive_to_storage
from saas_server.backups.storage import LocalStorage
from saas_server.odoo.rpc_driver import RpcDriver

async def main() -> None:
    url, master, postgres, database, root, filestores = sys.argv[1:7]
    driver = RpcDriver(
        url, master, postgres_url=postgres,
        filestore_root=Path(filestores) if filestores != "-" else None,
    )
    started = time.perf_counter()
    stored = await archive_to_storage(driver, database, LocalStorage(Path(root)), "bench.zip")
    seconds = time.perf_counter() - started
    await driver.close()
    print(seconds, stored.size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

asyncio.run(main())
"""


def rpc(url: str, service: str, method: str, *args: object) -> object:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"service": service, "method": method, "args": list(args)},
    }
    answer = httpx.post(url + "/jsonrpc", json=body, timeout=600).json()
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer.get("result")


def make_database(url: str, master: str, postgres: str, size_mb: int) -> str:
    name = "bench_" + uuid.uuid4().hex[:8]
    rpc(url, "db", "create_database", master, name, False, "en_US", "admin", "admin")
    files_mb = max(1, size_mb // 10)
    with psycopg.connect(with_database(postgres, name), autocommit=True) as conn:
        # Business-like rows: repetitive text with unique parts.
        conn.execute("CREATE TABLE bench_rows (id serial PRIMARY KEY, note text)")
        rows = (size_mb - files_mb) * 1024 * 1024 // 330
        conn.execute(
            "INSERT INTO bench_rows (note) SELECT repeat('invoice line for customer ', 10) "
            "|| md5(i::text) || md5((i * 7)::text) || ' ' || i FROM generate_series(1, %s) i",
            (rows,),
        )
    uid = rpc(url, "common", "authenticate", name, "admin", "admin", {})
    for index in range(files_mb):
        content = base64.b64encode(os.urandom(1 << 20)).decode()
        rpc(
            url, "object", "execute_kw", name, uid, "admin", "ir.attachment", "create",
            [{"name": f"file{index}.bin", "datas": content}], {},
        )  # fmt: skip
    return name


def baseline(postgres: str, database: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        f"pg_dump --no-owner '{with_database(postgres, database)}' | gzip > /dev/null",
        shell=True,
        check=True,
    )
    return time.perf_counter() - started


def platform(
    url: str, master: str, postgres: str, database: str, filestores: str
) -> tuple[float, int, int]:
    """Seconds, archive bytes, and the child's peak RSS in MB. ``filestores``: the
    emulator's filestore root for the driver's own assembly, or "-" for Odoo's route."""
    root = tempfile.mkdtemp(prefix="bench-backups-")
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, url, master, postgres, database, root, filestores],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        return float(out[0]), int(out[1]), int(out[2]) // 1024
    finally:
        shutil.rmtree(root, ignore_errors=True)


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/web/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--size-mb", type=int, nargs="+", default=[50, 200])
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-odoo-"))
    port = free_port()
    master = "bench-master"
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            SAAS, "odoo-emulator", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir), "--postgres-url", args.postgres_url,
        ],
        env={**os.environ, "SAAS_ODOO_EMULATOR_MASTER_PASSWORD": master},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    made: list[str] = []
    filestores = data_dir / "filestore"
    try:
        wait_up(url)
        for size in args.size_mb:
            database = make_database(url, master, args.postgres_url, size)
            made.append(database)
            with psycopg.connect(args.postgres_url) as conn:
                row = conn.execute("SELECT pg_database_size(%s)", (database,)).fetchone()
            on_disk = row[0] if row else 0
            base = min(baseline(args.postgres_url, database) for _ in range(2))
            print(
                f"database ~{size} MB (on disk {on_disk / 2**20:.0f} MB); "
                f"pg_dump | gzip {base:.2f} s"
            )
            paths = (("Odoo's backup route", "-"), ("assembled by the driver", str(filestores)))
            for label, root in paths:
                runs = [platform(url, master, args.postgres_url, database, root) for _ in range(2)]
                seconds = min(r[0] for r in runs)
                peak = max(r[2] for r in runs)
                print(
                    f"  {label:24} {seconds:6.2f} s  ratio {base / seconds:.2f} (aim >= 0.8)  "
                    f"archive {runs[0][1] / 2**20:.0f} MB  worker peak RSS {peak} MB (aim < 150)"
                )
    finally:
        for database in made:
            try:
                rpc(url, "db", "drop", master, database)
            except Exception as exc:
                print(f"could not drop {database}: {exc}")
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
