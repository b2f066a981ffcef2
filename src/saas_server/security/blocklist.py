"""The IP block list: rows in ``blocked_ips``, a copy in each API process's memory.

The copy is reloaded when a change is heard on ``saas_security_blocklist`` (a trigger of
migration 0015 NOTIFYs on every change, from any process or raw SQL), and trusted only while
that channel is listened to; otherwise (the listener down, or not started, as in an app run
without its lifespan) it is read again once it is older than
``security_blocklist_cache_seconds``. Expiry is checked on every request against the
injected clock, so an expired block lifts without any change to the table.

The client IP is the one the rate limiter counts (``scope["client"]``): behind a proxy,
uvicorn's ``--proxy-headers``/``--forwarded-allow-ips`` (the trusted proxies) set it from
``X-Forwarded-For``, for both alike (docs/decisions/0012-security-monitoring.md).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import NotFound, ValidationFailed
from saas_server.core.notifications import ChangeListener
from saas_server.core.runtime import Runtime
from saas_server.security.models import BlockedIp, SecurityEvent, SecurityEventType

logger = logging.getLogger(__name__)

CHANNEL = "saas_security_blocklist"
_PATH_MAX = 512
IP_BLOCKED = "security.ip_blocked"
IP_UNBLOCKED = "security.ip_unblocked"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedIpNotFound(NotFound):
    code = "BLOCKED_IP_NOT_FOUND"
    message = "Blocked IP not found"


def parse_network(value: str) -> Network:
    """An address or a network in canonical form; 422 for anything else."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationFailed.for_field("ip", "Not an IP address or network.") from None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network(mapped)
    return network


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def active_blocks() -> ColumnElement[bool]:
    now = clock.now()
    return or_(BlockedIp.expires_at.is_(None), BlockedIp.expires_at > now)


async def block_ip(
    session: AsyncSession,
    network: Network,
    *,
    duration: timedelta | None,
    reason: str | None,
    actor_id: uuid.UUID,
    client: ClientInfo,
    threat_id: uuid.UUID | None = None,
) -> BlockedIp:
    """Block ``network`` (for ``duration``, or until unblocked). Blocking one already
    blocked replaces its expiry and reason: the latest decision holds."""
    caller = _address(client.ip) if client.ip else None
    if caller is not None and caller in network:
        # An operator locking themselves out of the API they would unblock it with.
        raise ValidationFailed.for_field("ip", "This would block your own address.")
    now = clock.now()
    expires_at = now + duration if duration is not None else None
    values = {
        "id": uuid.uuid4(),
        "network": str(network),
        "reason": reason,
        "expires_at": expires_at,
        "created_by": actor_id,
        "threat_id": threat_id,
        "created_at": now,
        "updated_at": now,
    }
    insert = pg_insert(BlockedIp).values(values)
    upsert = insert.on_conflict_do_update(
        index_elements=[BlockedIp.network],
        set_={
            "reason": insert.excluded.reason,
            "expires_at": insert.excluded.expires_at,
            "created_by": insert.excluded.created_by,
            "threat_id": insert.excluded.threat_id,
            "updated_at": insert.excluded.updated_at,
        },
    ).returning(BlockedIp)
    blocked = (await session.scalars(upsert, execution_options={"populate_existing": True})).one()
    await audit.record(
        session,
        action=IP_BLOCKED,
        resource_type="blocked_ip",
        resource_id=blocked.id,
        actor_id=actor_id,
        new_values={
            "network": blocked.network,
            "expires_at": expires_at,
            "reason": reason,
            "threat_id": threat_id,
        },
        client=client,
    )
    return blocked


async def unblock_ip(
    session: AsyncSession, blocked_id: uuid.UUID, actor_id: uuid.UUID, client: ClientInfo
) -> None:
    blocked = (
        await session.execute(
            delete(BlockedIp).where(BlockedIp.id == blocked_id).returning(BlockedIp.network)
        )
    ).scalar_one_or_none()
    if blocked is None:
        raise BlockedIpNotFound()
    await audit.record(
        session,
        action=IP_UNBLOCKED,
        resource_type="blocked_ip",
        resource_id=blocked_id,
        actor_id=actor_id,
        old_values={"network": blocked},
        client=client,
    )


@dataclass(frozen=True)
class _Entry:
    network: Network
    expires_at: datetime | None


@dataclass(frozen=True)
class _Snapshot:
    """The block list as read once: single addresses by text for a dictionary lookup, the
    wider networks to scan."""

    addresses: dict[str, _Entry]
    networks: list[_Entry]

    @classmethod
    def of(cls, entries: list[_Entry]) -> _Snapshot:
        return cls(
            addresses={
                str(e.network.network_address): e
                for e in entries
                if e.network.prefixlen == e.network.max_prefixlen
            },
            networks=[e for e in entries if e.network.prefixlen != e.network.max_prefixlen],
        )


def _in_force(entry: _Entry, now: datetime) -> bool:
    return entry.expires_at is None or entry.expires_at > now


class RefusalTally:
    """A blocked IP's refused requests, counted per IP in this process's memory and written
    as one ``security_events`` row per IP (``count`` requests, at the window's first
    refusal's time and path) when the window ends; the window opens at the first refusal
    after a flush. What is counted when the app stops is written by :meth:`close` (from
    ``BlockList.close``, in the lifespan); a process killed outright loses at most one
    window's counts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # ip -> [count, first time, first path]
        self._counts: dict[str | None, list[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def note(self, ip: str | None, path: str) -> None:
        entry = self._counts.get(ip)
        if entry is None:
            self._counts[ip] = [1, clock.now(), path]
        else:
            entry[0] += 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self.runtime.settings.security_refusal_flush_seconds, self._flush_soon
            )

    def _flush_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write what was counted (one row per IP) and start a new window."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        counts, self._counts = self._counts, {}
        if not counts:
            return
        try:
            async with self.runtime.db.transaction() as session:
                session.add_all(
                    SecurityEvent(
                        type=SecurityEventType.BLOCKED_REQUEST.value,
                        occurred_at=first_at,
                        ip_address=ip[:64] if ip else None,
                        user_id=None,
                        path=path[:_PATH_MAX],
                        count=count,
                    )
                    for ip, (count, first_at, path) in counts.items()
                )
        except Exception:
            # Counting must never turn into an error; the counts of this window are lost.
            logger.exception("could not record %d blocked request(s)", len(counts))

    async def close(self) -> None:
        await self.flush()
        for task in list(self._flushing):
            await task


class BlockList:
    """One API process's copy of the block list (see the module's docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.refusals = RefusalTally(runtime)
        self._snapshot: _Snapshot | None = None
        self._loaded_at = 0.0
        # Bumped by every change heard: a read that overlapped one is used once, not kept.
        self._generation = 0
        # One reload at a time: requests arriving during it wait for its result instead of
        # each reading the table.
        self._reloading = asyncio.Lock()
        self._listener = ChangeListener(
            runtime.database_url,
            CHANNEL,
            on_change=lambda _payload: self._forget(),
            on_reset=self._forget,
            name="block list",
        )

    def start(self) -> None:
        self._listener.start()

    async def close(self) -> None:
        await self._listener.close()
        await self.refusals.close()

    def _forget(self) -> None:
        self._snapshot = None
        self._generation += 1

    def _trusted(self) -> _Snapshot | None:
        listening = self._listener.listening and self._listener.drain()
        fresh = time.monotonic() - self._loaded_at < (
            self.runtime.settings.security_blocklist_cache_seconds
        )
        return self._snapshot if listening or fresh else None

    async def _current(self) -> _Snapshot:
        found = self._trusted()
        if found is not None:
            return found
        async with self._reloading:
            found = self._trusted()
            if found is not None:
                return found
            generation = self._generation
            async with self.runtime.db.sessionmaker() as session:
                rows = (
                    await session.execute(
                        select(BlockedIp.network, BlockedIp.expires_at).where(active_blocks())
                    )
                ).all()
            snapshot = _Snapshot.of(
                [_Entry(ipaddress.ip_network(network), expires) for network, expires in rows]
            )
            if generation == self._generation:
                self._snapshot, self._loaded_at = snapshot, time.monotonic()
            return snapshot

    async def blocks(self, ip: str | None) -> bool:
        """Whether a request from ``ip`` is refused now. Cheap: no query while the copy is
        trusted, a dictionary lookup for single addresses, a scan only of networks."""
        snapshot = await self._current()
        if not ip or not (snapshot.addresses or snapshot.networks):
            return False
        address = _address(ip)
        if address is None:
            return False
        now = clock.now()
        exact = snapshot.addresses.get(str(address))
        if exact is not None and _in_force(exact, now):
            return True
        return any(address in e.network and _in_force(e, now) for e in snapshot.networks)
