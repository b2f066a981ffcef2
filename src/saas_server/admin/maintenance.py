"""Maintenance mode: while it is on, every non-admin ``/api`` call answers 503.

The switch is one database row (``maintenance_mode``), so every API process obeys the same
one. Each process keeps its copy in memory and drops it when a trigger's NOTIFY on
``saas_maintenance_changed`` reaches it; while its listener is not listening (starting,
reconnecting, or a process without a lifespan) it reads the row on every request instead,
so a change is never missed, only sometimes read more often than needed.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from saas_server.admin.models import MAINTENANCE_CHANNEL, MaintenanceMode
from saas_server.audit import service as audit
from saas_server.auth.sessions import authenticate
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError, ValidationFailed
from saas_server.core.http import error_body
from saas_server.core.notifications import ChangeListener
from saas_server.core.runtime import Runtime
from saas_server.users.models import User

logger = logging.getLogger(__name__)

# Answered even in maintenance: signing in and keeping a session alive, so that an admin
# can reach the switch (and a client's tokens survive the window). Health is outside /api.
OPEN_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/refresh"})


@dataclass(frozen=True)
class MaintenanceState:
    enabled: bool
    message: str | None
    until: datetime | None
    updated_at: datetime | None

    def active(self, now: datetime) -> bool:
        """On, and not past the end the operator announced (the mode then lapses by itself)."""
        return self.enabled and (self.until is None or now < self.until)

    def retry_after(self, now: datetime, default: int) -> int:
        if self.until is not None and self.until > now:
            return max(1, math.ceil((self.until - now).total_seconds()))
        return default


OFF = MaintenanceState(enabled=False, message=None, until=None, updated_at=None)


def state_of(row: MaintenanceMode | None) -> MaintenanceState:
    if row is None:
        return OFF
    return MaintenanceState(row.enabled, row.message, row.until, row.updated_at)


async def read_state(session: AsyncSession) -> MaintenanceState:
    return state_of(await session.get(MaintenanceMode, 1, populate_existing=True))


async def set_state(
    session: AsyncSession,
    actor: User | None,
    *,
    enabled: bool,
    message: str | None,
    until: datetime | None,
    client: ClientInfo | None = None,
) -> MaintenanceState:
    """Turn maintenance on or off, audited. Every process hears of it once this commits.
    ``actor`` None: an operator on the command line (``saas admin maintenance``)."""
    now = clock.now()
    if enabled and until is not None and until <= now:
        raise ValidationFailed.for_field("until", "Must be in the future.")
    previous = await read_state(session)
    values = {
        "enabled": enabled,
        "message": message if enabled else None,
        "until": until if enabled else None,
        "updated_by": str(actor.id) if actor else "cli",
        "updated_at": now,
    }
    await session.execute(
        insert(MaintenanceMode)
        .values(id=1, **values)
        .on_conflict_do_update(index_elements=[MaintenanceMode.id], set_=values)
    )
    await audit.record(
        session,
        action="admin.maintenance.on" if enabled else "admin.maintenance.off",
        resource_type="platform",
        resource_id="maintenance",
        actor_id=actor.id if actor else None,
        old_values=_audited(previous),
        new_values={
            "enabled": enabled,
            "message": values["message"],
            "until": clock.isoformat(until) if enabled and until else None,
        },
        client=client,
    )
    return await read_state(session)


def _audited(state: MaintenanceState) -> dict[str, Any]:
    return {
        "enabled": state.enabled,
        "message": state.message,
        "until": clock.isoformat(state.until) if state.until else None,
    }


class MaintenanceSwitch:
    """One process's copy of the switch, trusted only while its listener listens."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._state: MaintenanceState | None = None
        # Bumped by every notification: a read that a change overtook is not kept.
        self._generation = 0
        self._listener: ChangeListener | None = None
        self.reads = 0  # database reads, for tests and diagnostics

    def start(self) -> None:
        if self._listener is None:
            self._listener = ChangeListener(
                self.runtime.database_url,
                MAINTENANCE_CHANNEL,
                on_change=lambda _payload: self._forget(),
                on_reset=self._forget,
                name="maintenance switch",
            )
        self._listener.start()

    async def wait_listening(self) -> None:
        self.start()
        assert self._listener is not None
        await self._listener.wait_listening()

    def _forget(self) -> None:
        self._generation += 1
        self._state = None

    async def current(self) -> MaintenanceState:
        listener = self._listener
        trusted = listener is not None and listener.listening and listener.drain()
        if trusted and self._state is not None:
            return self._state
        generation = self._generation
        async with self.runtime.db.sessionmaker() as session:
            state = await read_state(session)
        self.reads += 1
        if trusted and generation == self._generation:
            self._state = state
        return state

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        self._listener = None
        self._state = None


class MaintenanceMiddleware:
    """Answers 503 ``MAINTENANCE_MODE`` with ``Retry-After`` to every non-admin ``/api`` call
    while the switch is on (``create_app`` puts it inside the request pipeline, so the
    answer carries the request id and the error envelope)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        switch: MaintenanceSwitch = scope["app"].state.maintenance
        try:
            state = await switch.current()
        except (SQLAlchemyError, OSError) as exc:
            # The switch cannot be read: the request goes on and meets the database's
            # trouble itself (or does not need it: a cached principal, a health check).
            logger.warning("maintenance switch unreadable: %s", type(exc).__name__)
            state = OFF
        now = clock.now()
        if not state.active(now) or await _is_platform_admin(switch.runtime, scope):
            await self.app(scope, receive, send)
            return
        default = switch.runtime.settings.maintenance_retry_after_seconds
        retry_after = state.retry_after(now, default)
        details: dict[str, Any] = {"retry_after": retry_after}
        if state.until is not None:
            details["until"] = clock.isoformat(state.until)
        body = json.dumps(
            error_body(
                "MAINTENANCE_MODE",
                state.message or "The platform is in maintenance; please retry later",
                details,
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _is_platform_admin(runtime: Runtime, scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return False
            try:
                principal = await authenticate(runtime, token.strip())
            except AppError:
                return False
            return bool(principal.user.is_platform_admin)
    return False
