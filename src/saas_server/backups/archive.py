"""Odoo's backup archive: a zip of ``dump.sql``, ``filestore/`` and ``manifest.json``.

Two checks. While an archive streams in, :class:`ZipTailCheck` keeps only its last bytes
and, at the end, finds the zip's central directory there: a stream cut short has none, so
it is never taken for a whole archive. Before a restore, :func:`inspect_archive` opens the
downloaded file and reads the manifest (``shared/odoo-protocol.md``, section 4).

An archive from outside (imported, uploaded, or read back from storage) is bounded before
anything in it is trusted (:class:`ArchiveLimits`, from settings): its size and the entry
count and directory size its end record declares, before the directory is parsed; then the
declared expanded total and each large member's compression ratio; then every member is
streamed through its CRC check, counting actual bytes. ``manifest.json`` is the one member
read into memory, and only when it declares (and proves) at most the manifest cap.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saas_server.core.errors import AppError
from saas_server.core.settings import Settings

EOCD_SIGNATURE = b"PK\x05\x06"
CENTRAL_ENTRY_SIGNATURE = b"PK\x01\x02"
# The end record (22 bytes) plus the longest comment; central directories of archives
# with many filestore files can be longer than the tail, and are then not listed.
TAIL_BYTES = 4 * 1024 * 1024
REQUIRED_ENTRIES = ("dump.sql", "manifest.json")
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_END_SIGNATURE = b"PK\x06\x06"
# Members smaller than this may compress as well as they like (an empty table's dump).
RATIO_CHECKED_FROM = 1024 * 1024
# The central directory may hold this much per allowed entry (a filestore path is ~60 bytes).
DIRECTORY_BYTES_PER_ENTRY = 320
READ_CHUNK = 1024 * 1024


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
class ArchiveLimits:
    max_bytes: int
    max_entries: int
    max_expanded_bytes: int
    max_ratio: int
    max_manifest_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLimits:
        return cls(
            max_bytes=settings.backup_archive_max_bytes,
            max_entries=settings.backup_archive_max_entries,
            max_expanded_bytes=settings.backup_archive_max_expanded_bytes,
            max_ratio=settings.backup_archive_max_ratio,
            max_manifest_bytes=settings.backup_manifest_max_bytes,
        )


class ArchiveTooLarge(ArchiveInvalid):
    message = "The backup archive exceeds the platform's limits"


def _refuse(message: str, reason: str, **details: Any) -> ArchiveTooLarge:
    return ArchiveTooLarge(message, details={"reason": reason, **details})


def _declared_directory(path: Path) -> tuple[int, int] | None:
    """The entry count and directory size the end record declares (zip64 included), read
    from the file's tail without parsing the directory; None when there is no end record
    (zipfile then says what is wrong)."""
    size = path.stat().st_size
    with path.open("rb") as source:
        tail_size = min(size, 22 + 65535 + 20)
        source.seek(size - tail_size)
        tail = source.read(tail_size)
        at = tail.rfind(EOCD_SIGNATURE)
        if at < 0 or len(tail) - at < 22:
            return None
        entries, cd_size, cd_offset = struct.unpack("<6xHII", tail[at + 4 : at + 20])
        if entries != 0xFFFF and cd_size != 0xFFFFFFFF and cd_offset != 0xFFFFFFFF:
            return entries, cd_size
        locator = tail[at - 20 : at] if at >= 20 else b""
        if not locator.startswith(ZIP64_LOCATOR_SIGNATURE):
            return entries, cd_size
        (end_offset,) = struct.unpack("<Q", locator[8:16])
        if end_offset + 56 > size:
            raise ArchiveInvalid("The archive's zip64 end record points outside the file")
        source.seek(end_offset)
        record = source.read(56)
        if not record.startswith(ZIP64_END_SIGNATURE):
            raise ArchiveInvalid("The archive's zip64 end record is missing")
        entries64, cd_size64 = struct.unpack("<QQ", record[32:48])
        return entries64, cd_size64


def check_bounds(archive: zipfile.ZipFile, limits: ArchiveLimits) -> None:
    """Declared sizes: the expanded total, and each large member's compression ratio."""
    expanded = 0
    for info in archive.infolist():
        expanded += info.file_size
        if info.file_size > RATIO_CHECKED_FROM and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise _refuse(
                f"The archive member {info.filename} expands {info.file_size:,} bytes from "
                f"{info.compress_size:,}, beyond the allowed ratio of {limits.max_ratio}",
                "compression_ratio",
                member=info.filename,
                ratio_limit=limits.max_ratio,
            )
    if expanded > limits.max_expanded_bytes:
        raise _refuse(
            f"The archive expands to {expanded:,} bytes, more than the "
            f"{limits.max_expanded_bytes:,} allowed",
            "expanded_size",
            expanded_bytes=expanded,
            limit=limits.max_expanded_bytes,
        )


def _read_manifest(archive: zipfile.ZipFile, limits: ArchiveLimits) -> Any:
    info = archive.getinfo("manifest.json")
    cap = limits.max_manifest_bytes
    if info.file_size > cap:
        raise _refuse(
            f"The archive's manifest.json is {info.file_size:,} bytes, more than the "
            f"{cap:,} allowed",
            "manifest_size",
            limit=cap,
        )
    with archive.open(info) as member:
        data = member.read(cap + 1)
    if len(data) > cap:  # zipfile stops at the declared size; this is a second fence
        raise _refuse("The archive's manifest.json is larger than declared", "manifest_size")
    return json.loads(data)


def _check_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> None:
    """Every member streamed through its CRC check, its actual bytes counted."""
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        actual = 0
        with archive.open(info) as member:
            while chunk := member.read(READ_CHUNK):
                actual += len(chunk)
                total += len(chunk)
                if actual > info.file_size or total > limits.max_expanded_bytes:
                    raise _refuse(
                        f"The archive member {info.filename} expands beyond its declared size",
                        "actual_size",
                        member=info.filename,
                    )
        if actual != info.file_size:
            raise ArchiveInvalid(f"The archive member {info.filename} is shorter than declared")


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


def inspect_archive(path: Path, limits: ArchiveLimits) -> ArchiveInfo:
    """Open an archive: within ``limits``, a zip with the entries Odoo needs, every member
    intact, and a readable manifest. Raises ArchiveInvalid (400 ``BACKUP_INVALID``)."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise _refuse(
            f"The archive is {size:,} bytes, more than the {limits.max_bytes:,} allowed",
            "archive_size",
            limit=limits.max_bytes,
        )
    try:
        declared = _declared_directory(path)
        if declared is not None:
            entries, directory_size = declared
            if entries > limits.max_entries:
                raise _refuse(
                    f"The archive has {entries:,} entries, more than the "
                    f"{limits.max_entries:,} allowed",
                    "entries",
                    entries=entries,
                    limit=limits.max_entries,
                )
            if directory_size > max(entries, 1) * DIRECTORY_BYTES_PER_ENTRY + 65536:
                raise _refuse(
                    f"The archive's directory ({directory_size:,} bytes) is too large for "
                    f"its {entries:,} entries",
                    "directory_size",
                )
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [name for name in REQUIRED_ENTRIES if name not in names]
            if missing:
                raise ArchiveInvalid(
                    f"The archive lacks {', '.join(missing)}", details={"missing": missing}
                )
            check_bounds(archive, limits)
            manifest = _read_manifest(archive, limits)
            _check_members(archive, limits)  # every member's CRC: a flipped byte shows here
    except zipfile.BadZipFile as exc:
        raise ArchiveInvalid(f"The archive is not a sound zip file: {exc}") from exc
    except (zlib.error, EOFError, NotImplementedError, RuntimeError, struct.error) as exc:
        raise ArchiveInvalid(f"The archive cannot be read: {exc}") from exc
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
