"""Odoo's backup archive: a zip of ``dump.sql``, ``filestore/`` and ``manifest.json``.

Two checks. While an archive streams in, :class:`ZipTailCheck` keeps only its last bytes
and, at the end, finds the zip's central directory there: a stream cut short has none, so
it is never taken for a whole archive. Before a restore, :func:`inspect_archive` opens the
downloaded file and reads the manifest (``shared/odoo-protocol.md``, section 4).
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saas_platform.core.errors import AppError

EOCD_SIGNATURE = b"PK\x05\x06"
CENTRAL_ENTRY_SIGNATURE = b"PK\x01\x02"
# The end record (22 bytes) plus the longest comment; central directories of archives
# with many filestore files can be longer than the tail, and are then not listed.
TAIL_BYTES = 4 * 1024 * 1024
REQUIRED_ENTRIES = ("dump.sql", "manifest.json")


class ArchiveInvalid(AppError):
    status_code = 400
    code = "BACKUP_INVALID"
    message = "The backup archive is not a valid Odoo backup"


class ZipTailCheck:
    """Feed every chunk; ``check()`` at the end raises ArchiveInvalid for a cut archive."""

    def __init__(self) -> None:
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._tail += chunk
        if len(self._tail) > 2 * TAIL_BYTES:
            del self._tail[: len(self._tail) - TAIL_BYTES]

    def check(self) -> None:
        tail = bytes(self._tail[-TAIL_BYTES:])
        at = tail.rfind(EOCD_SIGNATURE, max(0, len(tail) - 22 - 65535))
        if at < 0 or len(tail) - at < 22:
            raise ArchiveInvalid("The archive is incomplete: no zip end record")
        (entries, cd_size, cd_offset) = struct.unpack("<xxxxxxxxHII", tail[at + 2 : at + 20])
        if cd_offset == 0xFFFFFFFF or entries == 0xFFFF:
            return  # zip64: the end record of a very large archive is elsewhere; trust it
        start = len(tail) - (self.total - cd_offset)
        if self.total - cd_offset - (len(tail) - at) != cd_size:
            raise ArchiveInvalid("The archive is incomplete: its directory does not add up")
        if start < 0:
            return  # a directory larger than the tail: not listed here
        names = _central_names(tail[start : start + cd_size])
        missing = [name for name in REQUIRED_ENTRIES if name not in names]
        if missing:
            raise ArchiveInvalid(
                f"The archive lacks {', '.join(missing)}", details={"missing": missing}
            )


def _central_names(directory: bytes) -> set[str]:
    names: set[str] = set()
    offset = 0
    while directory.startswith(CENTRAL_ENTRY_SIGNATURE, offset):
        name_len, extra_len, comment_len = struct.unpack(
            "<HHH", directory[offset + 28 : offset + 34]
        )
        names.add(directory[offset + 46 : offset + 46 + name_len].decode("utf-8", "replace"))
        offset += 46 + name_len + extra_len + comment_len
    return names


@dataclass(frozen=True)
class ArchiveInfo:
    manifest: dict[str, Any]
    major_version: str  # "17.0"
    filestore_files: int


def major_version(version: str) -> str:
    """``"17.0-20240709"``, ``"saas~17.2"`` or ``"17.0"`` -> ``"17.0"``."""
    version = version.split("~")[-1]
    parts = version.split("-")[0].split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else version


def inspect_archive(path: Path) -> ArchiveInfo:
    """Open a downloaded archive: a zip with the entries Odoo needs and a readable manifest."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [name for name in REQUIRED_ENTRIES if name not in names]
            if missing:
                raise ArchiveInvalid(
                    f"The archive lacks {', '.join(missing)}", details={"missing": missing}
                )
            broken = archive.testzip()  # every member's CRC: a flipped byte shows here
            if broken is not None:
                raise ArchiveInvalid(f"The archive is corrupt at {broken}")
            manifest = json.loads(archive.read("manifest.json"))
    except zipfile.BadZipFile as exc:
        raise ArchiveInvalid(f"The archive is not a zip file: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveInvalid("The archive's manifest.json is unreadable") from exc
    if not isinstance(manifest, dict):
        raise ArchiveInvalid("The archive's manifest.json is not an object")
    version = manifest.get("major_version") or manifest.get("version")
    if not isinstance(version, str) or not version:
        raise ArchiveInvalid("The archive's manifest names no Odoo version")
    filestore = sum(1 for name in names if name.startswith("filestore/") and not name.endswith("/"))
    return ArchiveInfo(
        manifest=manifest, major_version=major_version(version), filestore_files=filestore
    )
