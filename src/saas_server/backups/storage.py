"""Where backup archives are kept: one interface, a local folder and S3-compatible storage.

An archive becomes visible under its key only once it is whole: a writer killed halfway
leaves nothing a reader could mistake for a complete archive.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, cast

from saas_server.core.settings import Settings

if TYPE_CHECKING:
    from saas_server.core.runtime import Runtime

CHUNK_SIZE = 1024 * 1024

ProgressCallback = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class StoredArchive:
    key: str
    size: int
    sha256: str  # hex


class ArchiveMissing(Exception):
    """No complete archive is stored under this key."""


class BackupStorage(Protocol):
    kind: str  # "local" or "s3"

    async def save(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> StoredArchive:
        """Store the stream under ``key``, counting its size and SHA-256 on the way.

        Atomic: on any exception (including cancellation) nothing is left under ``key`` nor
        any partial object. ``on_progress`` gets the bytes written so far, now and then.
        """
        ...

    def read(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The archive's bytes in chunks; raises ArchiveMissing when absent."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the archive; nothing happens when it is absent."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def keys(self, prefix: str = "") -> list[str]:
        """The keys of complete archives under ``prefix``."""
        ...

    async def download_url(self, key: str, *, filename: str, expires_in: int) -> str | None:
        """A short-lived link the client downloads from directly (S3 presigned), or None when
        the platform serves the download itself (local)."""
        ...

    async def close(self) -> None: ...


def build_storage(settings: Settings) -> BackupStorage:
    if settings.backup_storage == "s3":
        # Imported here: its S3 client library loads only where S3 is the storage.
        from saas_server.backups.s3_storage import S3Storage

        return S3Storage.from_settings(settings)
    return LocalStorage(settings.backup_local_dir or settings.data_dir / "backups")


class LocalStorage:
    """Archives as files under a folder (the default: ``<data dir>/backups``).

    A file is written beside its final name and renamed into place once whole and synced,
    so a reader never sees a partial archive and a crash leaves only a ``.partial-`` file,
    which ``keys`` ignores and the next ``save`` of the key cleans up.
    """

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"Invalid storage key {key!r}")
        return self.root.joinpath(*relative.parts)

    async def save(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> StoredArchive:
        target = self._path(key)
        await asyncio.to_thread(_make_dirs, target.parent)
        for stale in target.parent.glob(f"{target.name}{PARTIAL}*"):
            stale.unlink(missing_ok=True)
        partial = target.with_name(f"{target.name}{PARTIAL}{secrets.token_hex(4)}")
        digest = hashlib.sha256()
        size = 0
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(out.write, chunk)
                    if on_progress is not None:
                        await on_progress(size)
                await asyncio.to_thread(_sync, out)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredArchive(key=key, size=size, sha256=digest.hexdigest())

    async def read(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            source = path.open("rb")
        except FileNotFoundError:
            raise ArchiveMissing(key) from None
        with source:
            while chunk := await asyncio.to_thread(source.read, chunk_size):
                yield chunk

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def keys(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []

        def walk() -> list[str]:
            found = []
            for path in self.root.rglob("*"):
                if path.is_file() and PARTIAL not in path.name:
                    key = path.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        found.append(key)
            return sorted(found)

        return await asyncio.to_thread(walk)

    async def download_url(self, key: str, *, filename: str, expires_in: int) -> str | None:
        return None  # the API signs its own link and streams the file

    async def close(self) -> None:
        return None


PARTIAL = ".partial-"


def _make_dirs(path: Path) -> None:
    # mkdir(parents=True) gives the parents default permissions: create each level 0o700.
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)


def _sync(out: Any) -> None:
    out.flush()
    os.fsync(out.fileno())


def storage_of(runtime: Runtime) -> BackupStorage:
    """The runtime's backup storage. Core types the runtime's part only as closable (it names
    no domain); wiring built it with :func:`build_storage`."""
    return cast("BackupStorage", runtime.backup_storage)
