"""Where backup archives are kept: one interface, a local folder and S3-compatible storage.

An archive becomes visible under its key only once it is whole: a writer killed halfway
leaves nothing a reader could mistake for a complete archive.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from saas_platform.core.settings import Settings

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
    raise NotImplementedError  # filled in by the storage backends
