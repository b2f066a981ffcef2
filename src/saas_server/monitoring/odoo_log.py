"""An Odoo host's server log, read from the file its ``--logfile`` writes.

A host registered with a ``log_path`` (an Odoo on this machine, or one whose log directory is
mounted here; the built-in emulator always is) has its log read at request time: the last
``TAIL_BYTES`` of the file, parsed in Odoo's format (odoo/netsvc.py)::

    2026-12-05 09:20:01,123 4242 INFO acme odoo.addons.base.models.res_users: Login successful ...

Only the lines whose database field is the tenant's database are kept; lines that do not
start a record (a traceback's) belong to the record before them. Odoo writes its times in
UTC.

Rotated files are read too, newest first, while the budget lasts: when the current file is
shorter than ``TAIL_BYTES``, the rest comes from the file rotated before it, and so on, at
most ``ROTATED_FILES`` of them. A rotated file is a sibling named after the log with a suffix
(logrotate's ``odoo.log.1``, ``odoo.log.2.gz``, ``odoo.log-20261205``; Odoo's own
``--logrotate`` writes ``odoo.log.2026-12-05``), ordered by modification time; a gzip'd one
(``.gz``) is decompressed as a stream, keeping only its last bytes, and one whose compressed
size passes ``GZIP_MAX_BYTES`` is not read (its tail would cost the whole file). A record cut
by the rotation (its traceback's first lines in the older file) is kept from where the newer
file starts.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# How much of the file's end is read per request: recent lines, a bounded cost.
TAIL_BYTES = 4 * 1024 * 1024
# At most this many rotated files are read behind the current one.
ROTATED_FILES = 5
# A gzip'd rotated file larger than this (compressed) is left out.
GZIP_MAX_BYTES = 64 * 1024 * 1024
_GZIP_CHUNK = 256 * 1024

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


def rotated_files(path: str) -> list[str]:
    """The rotated siblings of ``path``, newest first: same directory, named after it with a
    ``.`` or ``-`` suffix (``odoo.log.1``, ``odoo.log.2.gz``, ``odoo.log-20261205``)."""
    directory, base = os.path.split(path)
    found: list[tuple[float, str]] = []
    try:
        entries = list(os.scandir(directory or "."))
    except OSError:
        return []
    for entry in entries:
        if entry.name == base or not entry.name.startswith((base + ".", base + "-")):
            continue
        try:
            if entry.is_file():
                found.append((entry.stat().st_mtime, entry.path))
        except OSError:
            continue
    # Newest first; at one mtime, logrotate's lower number is the newer file.
    found.sort(key=lambda item: (-item[0], _rotation_number(item[1])))
    return [name for _, name in found]


def _rotation_number(path: str) -> int:
    match = re.search(r"\.(\d+)(?:\.gz)?$", path)
    return int(match[1]) if match and len(match[1]) < 6 else 0


def _plain_tail(path: str, limit: int) -> tuple[bytes, bool]:
    """The last ``limit`` bytes of a file, and whether that is the whole file."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - limit)
        fh.seek(start)
        return fh.read(), start == 0


def _gzip_tail(path: str, limit: int) -> tuple[bytes, bool]:
    """The last ``limit`` bytes of a gzip'd file's content, read as a stream (memory stays
    within ``limit`` plus a chunk), and whether that is all of it. OSError for one past
    ``GZIP_MAX_BYTES``."""
    if os.path.getsize(path) > GZIP_MAX_BYTES:
        raise OSError(f"{path} is past {GZIP_MAX_BYTES} bytes compressed")
    kept = bytearray()
    whole = True
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(_GZIP_CHUNK):
            kept += chunk
            if len(kept) > limit:
                del kept[: len(kept) - limit]
                whole = False
    return bytes(kept), whole


def _tail(path: str, limit: int) -> str:
    """The last ``limit`` bytes of the log across its rotations, oldest first, starting at a
    whole line. OSError when the current file cannot be read (a rotated one that cannot is
    skipped: it may be rotating away)."""
    data, whole = _plain_tail(path, limit)
    pieces = [data]
    if whole:
        for older in rotated_files(path)[:ROTATED_FILES]:
            remaining = limit - sum(len(piece) for piece in pieces)
            if remaining <= 0:
                whole = False
                break
            reader = _gzip_tail if older.endswith(".gz") else _plain_tail
            try:
                data, whole = reader(older, remaining)
            except (OSError, EOFError):  # gzip.BadGzipFile is an OSError
                break  # what was read starts at the newer file's first line: whole

            if data and not data.endswith(b"\n"):
                data += b"\n"
            pieces.append(data)
            if not whole:
                break
    text = b"".join(reversed(pieces))
    if not whole:
        # The first line is cut: it starts after the first newline.
        text = text[text.find(b"\n") + 1 :] if b"\n" in text else b""
    return text.decode("utf-8", errors="replace")


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
    """``database``'s records in the last ``tail_bytes`` of ``path`` and the files it was
    rotated to, oldest first (read off the event loop). OSError when it cannot be read."""
    text = await asyncio.to_thread(_tail, path, tail_bytes)
    return parse(text, database)
