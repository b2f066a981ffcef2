"""Odoo hosts: registration, health, draining, and choosing where a new database goes."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import Conflict, NotFound, ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.instances.hosts import standby
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.lifecycle import HOST, HostAction
from saas_server.instances.hosts.load import LIVE_INSTANCE, instance_counts
from saas_server.instances.hosts.models import HostStatus, OdooHost
from saas_server.instances.models import Instance
from saas_server.odoo.driver import HostHealth, OdooDriver
from saas_server.odoo.errors import OdooError

SUPPORTED_VERSIONS = ("17.0", "18.0", "19.0")
# A host answering slower than this is degraded: still used, but reported.
DEGRADED_LATENCY_MS = 2000.0


class HostNotFound(NotFound):
    message = "Odoo host not found"


@dataclass(frozen=True)
class HostWithLoad:
    host: OdooHost
    instance_count: int


def check_version(version: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise ValidationFailed.for_field(
            "odoo_version", f"Supported versions: {', '.join(SUPPORTED_VERSIONS)}."
        )


# -- what a host must be ---------------------------------------------------------------------

# One DNS label: letters, digits and inner hyphens (RFC 1123).
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


def has_control_characters(value: str) -> bool:
    """Control, format, surrogate or unassigned characters (what a log line or a terminal
    would interpret, or a name could hide behind)."""
    return any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in value)


def check_name(name: str) -> str:
    if not name.strip():
        raise ValidationFailed.for_field("name", "A host needs a name.")
    if has_control_characters(name):
        raise ValidationFailed.for_field("name", "A host name cannot hold control characters.")
    return name


def _real_hostname(host: str) -> bool:
    """An IP address literal or a DNS name; never a bare number (``http://2`` would reach
    0.0.0.2) nor anything with characters no hostname holds."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        return False
    # A name ending in a number is an IP address written some legacy way ("2", "10.1").
    return not labels[-1].isdigit()


def _url_problem(url: str) -> str | None:
    if has_control_characters(url):
        return "The URL cannot hold control characters."
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "This is not a URL."
    if parsed.scheme not in ("http", "https"):
        return "The URL must start with http:// or https://."
    if not parsed.host or not _real_hostname(parsed.host):
        return "The URL must name a real host (a DNS name or an IP address)."
    if parsed.userinfo or parsed.query or parsed.fragment:
        return "The URL cannot carry credentials, a query or a fragment."
    return None


def check_url(url: str) -> str:
    """An http(s) URL of a real host, without credentials, query or fragment; answers it
    without a trailing slash."""
    problem = _url_problem(url)
    if problem is not None:
        raise ValidationFailed.for_field("url", problem)
    return url.rstrip("/")


def check_postgres_url(url: str) -> str:
    problem = None
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if has_control_characters(url):
        problem = "The PostgreSQL URL cannot hold control characters."
    elif parsed is None or parsed.drivername != "postgresql":
        problem = "The PostgreSQL URL must start with postgresql://."
    elif parsed.host is not None and not _real_hostname(parsed.host):
        problem = "The PostgreSQL URL must name a real host (a DNS name or an IP address)."
    if problem is not None:
        raise ValidationFailed.for_field("postgres_url", problem)
    return url


async def _databases_at(postgres_url: str) -> set[str]:
    try:
        conn = await psycopg.AsyncConnection.connect(
            postgres_url, connect_timeout=POSTGRES_CONNECT_TIMEOUT_SECONDS, autocommit=True
        )
    except psycopg.Error as exc:
        # The message names the server and the role, never the password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationFailed.for_field(
            "postgres_url", f"Cannot connect to this PostgreSQL: {reason}"
        ) from exc
    async with conn:
        rows = await conn.execute("SELECT datname FROM pg_database")
        return {name for (name,) in await rows.fetchall()}


async def confirm_postgres_of(driver: OdooDriver, postgres_url: str) -> None:
    """Accept ``postgres_url`` only when it shows every database the Odoo lists: the
    platform issues ``ALTER DATABASE`` and dumps there, so it must be that Odoo's server."""
    # Snapshots before and after the listing: a database created or dropped meanwhile is
    # in one of them, so only a database this server never had counts as missing.
    before = await _databases_at(postgres_url)
    try:
        listed = set(await driver.list_databases())
    except OdooError as exc:
        raise ValidationFailed.for_field(
            "postgres_url",
            "The host does not list its databases (is list_db off?), so this PostgreSQL "
            f"cannot be confirmed as its own: {exc.message}",
        ) from exc
    missing = listed - before - await _databases_at(postgres_url)
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise ValidationFailed.for_field(
            "postgres_url",
            "This PostgreSQL does not hold the databases of the Odoo at the host's URL "
            f"(missing: {shown}); give the URL of the server that Odoo uses.",
        )


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
        log_path: str | None = None,
    ) -> OdooHost:
        check_version(odoo_version)
        check_name(name)
        url = check_url(url)
        if postgres_url:
            check_postgres_url(postgres_url)
        host = OdooHost(
            name=name,
            url=url,
            master_password_encrypted=self.runtime.secrets.encrypt(master_password),
            postgres_url_encrypted=(
                self.runtime.secrets.encrypt(postgres_url) if postgres_url else None
            ),
            odoo_version=odoo_version,
            capacity=capacity,
            status=HostStatus.DOWN.value,
            is_emulator=is_emulator,
            log_path=log_path or None,
        )
        await self._confirm(host, odoo_version, postgres_url=postgres_url)
        self.session.add(host)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"An Odoo host named {name!r} exists already") from exc
        return host

    async def update(self, host: OdooHost, changes: dict[str, Any]) -> OdooHost:
        if changes.get("name"):
            host.name = check_name(changes["name"])
        if changes.get("url"):
            host.url = check_url(changes["url"])
        if changes.get("postgres_url"):
            check_postgres_url(changes["postgres_url"])
        if changes.get("master_password"):
            host.master_password_encrypted = self.runtime.secrets.encrypt(
                changes["master_password"]
            )
        if "postgres_url" in changes:
            value = changes["postgres_url"]
            host.postgres_url_encrypted = self.runtime.secrets.encrypt(value) if value else None
        if changes.get("capacity") is not None:
            host.capacity = changes["capacity"]
        if "log_path" in changes:
            host.log_path = changes["log_path"] or None
        if changes.get("url") or changes.get("postgres_url"):
            # The host keeps its version: a new address must answer as the same Odoo.
            await self._confirm(host, host.odoo_version, postgres_url=self._postgres_url(host))
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("An Odoo host with this name exists already") from exc
        return host

    async def remove(self, host: OdooHost) -> None:
        count = await self.instance_count(host.id)
        if count:
            raise Conflict(
                "This host still holds instances; drain it and move or delete them first",
                details={"instance_count": count},
            )
        await standby.drop_for_host(self.runtime, host)
        await self.session.delete(host)
        await self.session.flush()

    async def drain(self, host: OdooHost) -> None:
        host.draining = True
        HOST.apply(host, HostAction.DRAIN)

    async def activate(self, host: OdooHost) -> None:
        host.draining = False
        await self._apply_health(host)

    async def check(self, host: OdooHost) -> OdooHost:
        await self._apply_health(host)
        return host

    def _postgres_url(self, host: OdooHost) -> str | None:
        if host.postgres_url_encrypted is None:
            return None
        return self.runtime.secrets.decrypt(host.postgres_url_encrypted)

    async def _confirm(
        self, host: OdooHost, odoo_version: str, *, postgres_url: str | None
    ) -> None:
        """Take the host only when an Odoo of ``odoo_version`` answers at its URL and
        ``postgres_url`` (if any) shows that Odoo's databases; the health found is kept."""
        health = await self._apply_health(host)
        if not health.reachable:
            raise ValidationFailed.for_field(
                "url", f"No Odoo answers at {host.url}: {health.error or 'no answer'}."
            )
        if host.is_emulator:
            # The built-in emulator serves the version the settings ask for today.
            odoo_version = host.odoo_version
        if host.odoo_version != odoo_version:
            raise ValidationFailed.for_field(
                "odoo_version", f"The host reports Odoo {host.odoo_version}, not {odoo_version}."
            )
        if postgres_url:
            driver = driver_for(self.runtime, host)
            try:
                await confirm_postgres_of(driver, postgres_url)
            finally:
                await driver.close()

    async def _apply_health(self, host: OdooHost) -> HostHealth:
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
            HOST.apply(host, HostAction.DRAIN)
        elif not health.reachable:
            HOST.apply(host, HostAction.FAIL)
        elif (health.latency_ms or 0) > DEGRADED_LATENCY_MS:
            HOST.apply(host, HostAction.SLOW)
        else:
            HOST.apply(host, HostAction.PASS)
        return health

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
