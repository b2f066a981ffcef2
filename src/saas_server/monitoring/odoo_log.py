"""An Odoo host's server log, read from the file its ``--logfile`` writes.

A host registered with a ``log_path`` (an Odoo on this machine, or one whose log directory is
mounted here; the built-in emulator always is) has its log read at request time: the last
``TAIL_BYTES`` of the file, parsed in Odoo's format (odoo/netsvc.py)::

    2026-12-05 09:20:01,123 4242 INFO acme odoo.addons.base.models.res_users: Login successful ...

Only the lines whose database field is the tenant's database are kept; lines that do not
start a record (a traceback's) belong to the record before them. Odoo writes its times in
UTC. Rotated files (``odoo.log.1``...) are not read.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# How much of the file's end is read per request: recent lines, a bounded cost.
TAIL_BYTES = 4 * 1024 * 1024

_RECORD = re.compile(
    r"^(?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(?P<ms>\d{3}) (?P<pid>\d+) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|\?) (?P<db>\S+) (?P<logger>[^\s:]+): "
    r"(?P<message>.*)$"
)

# Odoo's levels as the tenant log's three.
LEVELS = {
    "DEBUG": "info",
    "INFO": "info",
    "?": "info",
    "WARNING": "warning",
    "ERROR": "error",
    "CRITICAL": "error",
}


@dataclass
class OdooLogRecord:
    at: datetime
    pid: int
    level: str
    database: str
    logger: str
    message: str


def _tail(path: str, limit: int) -> str:
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - limit)
        fh.seek(start)
        data = fh.read()
    if start > 0:
        # The first line is cut: it starts after the first newline.
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
    return data.decode("utf-8", errors="replace")


def parse(text: str, database: str) -> list[OdooLogRecord]:
    """The records of ``database`` in ``text``, oldest first."""
    records: list[OdooLogRecord] = []
    current: OdooLogRecord | None = None
    for line in text.splitlines():
        match = _RECORD.match(line)
        if match is None:
            if current is not None:
                current.message += "\n" + line
            continue
        if match["db"] != database:
            current = None
            continue
        moment = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S").replace(
            microsecond=int(match["ms"]) * 1000, tzinfo=UTC
        )
        current = OdooLogRecord(
            at=moment,
            pid=int(match["pid"]),
            level=match["level"],
            database=match["db"],
            logger=match["logger"],
            message=match["message"],
        )
        records.append(current)
    return records


async def read_records(
    path: str, database: str, tail_bytes: int = TAIL_BYTES
) -> list[OdooLogRecord]:
    """``database``'s records in the last ``tail_bytes`` of ``path``, oldest first (the file
    is read off the event loop). OSError when it cannot be read."""
    text = await asyncio.to_thread(_tail, path, tail_bytes)
    return parse(text, database)
