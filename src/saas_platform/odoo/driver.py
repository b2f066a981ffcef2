"""The one interface the platform uses to run Odoo databases.

Callers (provisioning, lifecycle, backups) speak only to ``OdooDriver``; ``RpcDriver``
implements it for any Odoo server reachable over HTTP (plus SQL when the host has a
PostgreSQL URL). A Kubernetes driver can implement the same protocol later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol

from saas_platform.odoo.client import ServerVersion


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str


@dataclass(frozen=True)
class DatabaseSetup:
    """What provisioning writes into a fresh database (all of it idempotent)."""

    admin: Credentials
    company_name: str
    lang: str
    timezone: str
    base_url: str
    expires_at: datetime | None = None
    expiration_reason: str | None = None
    extra_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostHealth:
    reachable: bool
    latency_ms: float | None
    version: ServerVersion | None
    error: str | None = None


class OdooDriver(Protocol):
    async def close(self) -> None: ...

    async def health(self) -> HostHealth: ...

    async def server_version(self) -> ServerVersion: ...

    async def database_exists(self, name: str) -> bool: ...

    async def create(self, name: str, *, admin: Credentials, lang: str) -> None: ...

    async def clone(self, template: str, name: str) -> None: ...

    async def rename(self, name: str, new_name: str) -> None: ...

    async def configure(
        self,
        name: str,
        *,
        current: Credentials,
        setup: DatabaseSetup,
        renew_identity: bool = True,
    ) -> None: ...

    async def authenticate(self, name: str, credentials: Credentials) -> int | None: ...

    async def stop(self, name: str) -> None: ...

    async def start(self, name: str) -> None: ...

    async def drop(self, name: str) -> bool: ...

    def dump(self, name: str) -> AsyncIterator[bytes]: ...

    async def restore(self, name: str, archive: IO[bytes], *, copy: bool) -> None: ...

    async def size(self, name: str) -> int | None: ...
