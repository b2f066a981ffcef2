"""Odoo hosts: registration, health, draining, and choosing where a new database goes."""

from __future__ import annotations

import functools
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.core import clock
from saas_platform.core.errors import Conflict, NotFound, ValidationFailed
from saas_platform.core.runtime import Runtime
from saas_platform.hosts.models import HostStatus, OdooHost
from saas_platform.instances.models import Instance, InstanceStatus
from saas_platform.odoo.client import OdooClient
from saas_platform.odoo.rpc_driver import RpcDriver

SUPPORTED_VERSIONS = ("17.0", "18.0", "19.0")
# A host answering slower than this is degraded: still used, but reported.
DEGRADED_LATENCY_MS = 2000.0
LIVE_INSTANCE = Instance.status != InstanceStatus.DELETED.value


class HostNotFound(NotFound):
    message = "Odoo host not found"


@dataclass(frozen=True)
class HostWithLoad:
    host: OdooHost
    instance_count: int


# The built-in emulator's data dir under the platform's (hosts/emulator.py).
EMULATOR_DIR = "odoo-emulator"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every Odoo client: httpx builds a new one per client otherwise
    (loading the CA bundle: ~40 ms of CPU, paid by every provisioning job and host check)."""
    return httpx.create_ssl_context()


def driver_for(runtime: Runtime, host: OdooHost) -> RpcDriver:
    return RpcDriver(
        host.url,
        runtime.secrets.decrypt(host.master_password_encrypted),
        postgres_url=(
            runtime.secrets.decrypt(host.postgres_url_encrypted)
            if host.postgres_url_encrypted
            else None
        ),
        # The built-in emulator keeps its filestores under our data dir: backups of its
        # databases are assembled here, pipelined (odoo/direct_dump.py).
        filestore_root=(
            Path(runtime.settings.data_dir) / EMULATOR_DIR / "filestore"
            if host.is_emulator
            else None
        ),
        client=OdooClient(host.url, transport=httpx.AsyncHTTPTransport(verify=_tls_context())),
    )


def check_version(version: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise ValidationFailed.for_field(
            "odoo_version", f"Supported versions: {', '.join(SUPPORTED_VERSIONS)}."
        )


async def instance_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Instance.host_id, func.count(Instance.id))
        .where(LIVE_INSTANCE, Instance.host_id.is_not(None))
        .group_by(Instance.host_id)
    )
    return {host_id: count for host_id, count in rows.all() if host_id is not None}


class HostService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    async def get(self, host_id: uuid.UUID) -> OdooHost:
        host = await self.session.get(OdooHost, host_id)
        if host is None:
            raise HostNotFound()
        return host

    async def get_by_name(self, name: str) -> OdooHost:
        host = (
            await self.session.execute(select(OdooHost).where(OdooHost.name == name))
        ).scalar_one_or_none()
        if host is None:
            raise HostNotFound(f"No Odoo host is named {name!r}")
        return host

    async def instance_count(self, host_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count(Instance.id)).where(Instance.host_id == host_id, LIVE_INSTANCE)
        )
        return int(result.scalar_one())

    async def add(
        self,
        *,
        name: str,
        url: str,
        master_password: str,
        odoo_version: str,
        capacity: int,
        postgres_url: str | None = None,
        is_emulator: bool = False,
    ) -> OdooHost:
        check_version(odoo_version)
        host = OdooHost(
            name=name,
            url=url.rstrip("/"),
            master_password_encrypted=self.runtime.secrets.encrypt(master_password),
            postgres_url_encrypted=(
                self.runtime.secrets.encrypt(postgres_url) if postgres_url else None
            ),
            odoo_version=odoo_version,
            capacity=capacity,
            status=HostStatus.DOWN.value,
            is_emulator=is_emulator,
        )
        await self._apply_health(host)
        if host.status != HostStatus.DOWN.value and host.odoo_version != odoo_version:
            raise ValidationFailed.for_field(
                "odoo_version", f"The host reports Odoo {host.odoo_version}, not {odoo_version}."
            )
        self.session.add(host)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"An Odoo host named {name!r} exists already") from exc
        return host

    async def update(self, host: OdooHost, changes: dict[str, Any]) -> OdooHost:
        if changes.get("name"):
            host.name = changes["name"]
        if changes.get("url"):
            host.url = changes["url"].rstrip("/")
        if changes.get("master_password"):
            host.master_password_encrypted = self.runtime.secrets.encrypt(
                changes["master_password"]
            )
        if "postgres_url" in changes:
            value = changes["postgres_url"]
            host.postgres_url_encrypted = self.runtime.secrets.encrypt(value) if value else None
        if changes.get("capacity") is not None:
            host.capacity = changes["capacity"]
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("An Odoo host with this name exists already") from exc
        if "url" in changes:
            await self._apply_health(host)
        return host

    async def remove(self, host: OdooHost) -> None:
        count = await self.instance_count(host.id)
        if count:
            raise Conflict(
                "This host still holds instances; drain it and move or delete them first",
                details={"instance_count": count},
            )
        # Imported here: the pool builds on this module.
        from saas_platform.hosts import standby

        await standby.drop_for_host(self.runtime, host)
        await self.session.delete(host)
        await self.session.flush()

    async def drain(self, host: OdooHost) -> None:
        host.draining = True
        host.status = HostStatus.DRAINING.value

    async def activate(self, host: OdooHost) -> None:
        host.draining = False
        await self._apply_health(host)

    async def check(self, host: OdooHost) -> OdooHost:
        await self._apply_health(host)
        return host

    async def _apply_health(self, host: OdooHost) -> None:
        """Reachability and version from ``/web/health`` and ``common.version`` only."""
        driver = driver_for(self.runtime, host)
        try:
            health = await driver.health()
        finally:
            await driver.close()
        host.last_checked_at = clock.now()
        host.last_latency_ms = health.latency_ms
        host.last_error = health.error
        if health.version is not None:
            host.odoo_version = health.version.major or host.odoo_version
            host.server_version = health.version.server_version
        if host.draining:
            host.status = HostStatus.DRAINING.value
        elif not health.reachable:
            host.status = HostStatus.DOWN.value
        elif (health.latency_ms or 0) > DEGRADED_LATENCY_MS:
            host.status = HostStatus.DEGRADED.value
        else:
            host.status = HostStatus.HEALTHY.value

    async def list_with_load(self) -> list[HostWithLoad]:
        hosts = (await self.session.execute(select(OdooHost).order_by(OdooHost.name))).scalars()
        counts = await instance_counts(self.session)
        return [HostWithLoad(h, counts.get(h.id, 0)) for h in hosts]

    async def pick(self, odoo_version: str) -> OdooHost | None:
        """The least-loaded usable host of ``odoo_version`` with room, locked for this
        transaction so concurrent provisioning jobs count each other. Real hosts come
        before the built-in emulator, which only takes tenants when no real host can."""
        candidates = (
            await self.session.execute(
                select(OdooHost)
                .where(
                    OdooHost.odoo_version == odoo_version,
                    OdooHost.status.in_((HostStatus.HEALTHY.value, HostStatus.DEGRADED.value)),
                    OdooHost.draining.is_(False),
                )
                .with_for_update()
            )
        ).scalars()
        counts = await instance_counts(self.session)
        usable = [
            (host.is_emulator, host.status != HostStatus.HEALTHY.value, load / host.capacity, host)
            for host in candidates
            if (load := counts.get(host.id, 0)) < host.capacity
        ]
        if not usable:
            return None
        usable.sort(key=lambda entry: entry[:3])
        return usable[0][3]

    async def has_any(self) -> bool:
        return (await self.session.execute(select(OdooHost.id).limit(1))).first() is not None
