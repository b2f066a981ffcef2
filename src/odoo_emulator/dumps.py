"""Database dumps and restores in Odoo's format (odoo-protocol.md sections 4 and 11).

A ``zip`` dump holds ``dump.sql`` first (plain ``pg_dump --no-owner``), ``manifest.json``
(indent 4) and ``filestore/...``; any other format is ``pg_dump --format=c`` alone. Dumps are
written to a file, never assembled in memory, so the web backup route can stream them.
Restoring extracts only ``dump.sql`` and ``filestore/*`` from a zip and runs ``psql``, or runs
``pg_restore`` on anything else; a non-zero exit is "Couldn't restore database" and leaves the
new, empty database behind, as Odoo does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from odoo_emulator.errors import operational_error
from odoo_emulator.runtime import Emulator

logger = logging.getLogger(__name__)

# Lines a newer pg_dump writes that an older server refuses: (first server version that
# knows the setting, line prefix). psql would only print an error for them, but the restore
# log stays clean without them.
NEWER_SETTINGS = ((17, b"SET transaction_timeout"),)
COPY_CHUNK = 1024 * 1024


def pg_command_env(emulator: Emulator, db_name: str) -> tuple[str, dict[str, str]]:
    """A conninfo for the tools (password moved to PGPASSWORD, off the command line)."""
    params: dict[str, Any] = conninfo_to_dict(emulator.pg.conninfo(db_name))
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


async def _run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    return process.returncode or 0, stderr.decode("utf-8", "replace")


async def manifest(emulator: Emulator, db_name: str) -> dict[str, Any]:
    """``dump_db_manifest``: connecting first, so an unknown database fails here with
    psycopg2's OperationalError, as in Odoo."""
    try:
        conn = await psycopg.AsyncConnection.connect(emulator.pg.conninfo(db_name))
    except psycopg.OperationalError as exc:
        raise operational_error(exc) from None
    try:
        server_version = conn.info.server_version
        cur = await conn.execute(
            "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
        )
        modules: dict[str, str] = dict(await cur.fetchall())
    finally:
        await conn.close()
    # Odoo's arithmetic: "%d.%d" % divmod(server_version / 100, 100) -> "15.0" for any 15.x.
    major, minor = divmod(server_version / 100, 100)
    version = emulator.version
    return {
        "odoo_dump": "1",
        "db_name": db_name,
        "version": version.server_version,
        "version_info": list(version.version_info),
        "major_version": version.serie,
        "pg_version": f"{int(major)}.{int(minor)}",
        "modules": modules,
    }


def _zip_dir(source: Path, target: Path) -> None:
    """osutil.zip_dir: deflate, zip64, paths relative to ``source``, dump.sql first."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for dirpath, _dirnames, filenames in os.walk(source):
            for fname in sorted(filenames, key=lambda name: name != "dump.sql"):
                path = Path(dirpath) / fname
                if path.is_file():
                    zf.write(path, path.relative_to(source).as_posix())


async def dump_to_file(emulator: Emulator, db_name: str, target: Path, backup_format: str) -> None:
    """Write the dump of ``db_name`` to ``target`` (``dump_db``)."""
    tools = await emulator.pg_tools()
    conninfo, env = pg_command_env(emulator, db_name)
    if backup_format == "zip":
        with tempfile.TemporaryDirectory(prefix="odoo-emulator-dump-") as tmp:
            dump_dir = Path(tmp)
            store = emulator.config.filestore(db_name)
            if store.exists():
                await asyncio.to_thread(shutil.copytree, store, dump_dir / "filestore")
            data = await manifest(emulator, db_name)
            (dump_dir / "manifest.json").write_text(json.dumps(data, indent=4))
            code, errors = await _run(
                [tools.pg_dump, "--no-owner", f"--file={dump_dir / 'dump.sql'}", conninfo], env
            )
            if code != 0:
                logger.error("pg_dump of %s failed: %s", db_name, errors.strip())
                raise subprocess.CalledProcessError(code, [tools.pg_dump, "--no-owner", db_name])
            await asyncio.to_thread(_zip_dir, dump_dir, target)
        return
    code, errors = await _run(
        [tools.pg_dump, "--no-owner", "--format=c", f"--file={target}", conninfo], env
    )
    if code != 0:
        logger.error("pg_dump of %s failed: %s", db_name, errors.strip())
        raise subprocess.CalledProcessError(code, [tools.pg_dump, "--no-owner", db_name])


def _extract(dump_file: Path, dump_dir: Path, server_major: int) -> bool:
    """Extract dump.sql (minus settings the server would refuse) and filestore/*; answer
    whether a filestore was there. A zip without dump.sql raises KeyError, as in Odoo."""
    with zipfile.ZipFile(dump_file) as zf:
        names = zf.namelist()
        if "dump.sql" not in names:
            raise KeyError("There is no item named 'dump.sql' in the archive")
        skipped = tuple(prefix for since, prefix in NEWER_SETTINGS if server_major < since)
        with zf.open("dump.sql") as src, open(dump_dir / "dump.sql", "wb") as dst:
            for line in src:
                if skipped and line.startswith(skipped):
                    continue
                dst.write(line)
        members = [n for n in names if n.startswith("filestore/")]
        for member in members:
            zf.extract(member, dump_dir)
        return bool(members)


async def restore_file(emulator: Emulator, db_name: str, dump_file: Path) -> Path | None:
    """Load ``dump_file`` into the (new, empty) database ``db_name``. Answers the extracted
    filestore directory (to be moved into place by the caller), or None."""
    tools = await emulator.pg_tools()
    conninfo, env = pg_command_env(emulator, db_name)
    server_major = await emulator.pg.server_major()
    if zipfile.is_zipfile(dump_file):
        dump_dir = Path(tempfile.mkdtemp(prefix="odoo-emulator-restore-"))
        try:
            has_filestore = await asyncio.to_thread(_extract, dump_file, dump_dir, server_major)
            code, errors = await _run(
                [tools.psql, f"--dbname={conninfo}", "-q", "-f", str(dump_dir / "dump.sql")], env
            )
        except BaseException:
            shutil.rmtree(dump_dir, ignore_errors=True)
            raise
        (dump_dir / "dump.sql").unlink(missing_ok=True)
        if code != 0:
            shutil.rmtree(dump_dir, ignore_errors=True)
            logger.error("psql restore of %s failed: %s", db_name, errors.strip())
            raise Exception("Couldn't restore database")
        if errors.strip():
            logger.info("psql restore of %s: %s", db_name, errors.strip()[:2000])
        if has_filestore:
            return dump_dir / "filestore"
        shutil.rmtree(dump_dir, ignore_errors=True)
        return None
    code, errors = await _run(
        [tools.pg_restore, "--no-owner", f"--dbname={conninfo}", str(dump_file)], env
    )
    if code != 0:
        logger.error("pg_restore of %s failed: %s", db_name, errors.strip())
        raise Exception("Couldn't restore database")
    return None


def install_filestore(extracted: Path, target: Path) -> None:
    """Move an extracted filestore into ``<data dir>/filestore/<db>`` and drop the temp dir."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.copytree(extracted, target, dirs_exist_ok=True)
    else:
        shutil.move(str(extracted), str(target))
    shutil.rmtree(extracted.parent, ignore_errors=True)
