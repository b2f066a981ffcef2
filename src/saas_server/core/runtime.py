"""What a running process holds: settings, the resolved database, the job app, secrets.

The API (in its lifespan), every CLI command and every worker open one ``Runtime``; tests
open one per test database. Nothing a runtime holds is a module-level global, so several
runtimes can live in one process.

Core names no domain (docs/decisions/0007-package-ladder.md): what the domains put into a
runtime (the principal cache, the backup storage, the schedule, the rate-limit plan of a
user) arrives as :class:`RuntimeParts`, composed by ``saas_server.wiring``. A runtime
built without parts takes those the process was wired with (:func:`provide_parts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import procrastinate
import psycopg
from procrastinate.manager import QUEUEING_LOCK_CONSTRAINT
from psycopg import sql

from saas_server.core.crypto import SecretBox, derive_key
from saas_server.core.db import Database, database_name, libpq_url, with_database
from saas_server.core.embedded_postgres import (
    EmbeddedPostgres,
    EmbeddedRoles,
    audit_log_released,
    bootstrap_roles,
    is_superuser,
    seal_audit_log,
)
from saas_server.core.errors import ConfigurationError
from saas_server.core.hooks import HookNotConnected
from saas_server.core.jobs import build_jobs_app
from saas_server.core.ratelimit import RateLimiter
from saas_server.core.schedule import run_schedule
from saas_server.core.security import AccessTokens
from saas_server.core.settings import Settings, check_production_settings, resolve_secret_key

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "saas_server"
# The session-info entry holding the audit log's MAC key (also the key's derivation purpose).
AUDIT_MAC_KEY = "audit_mac_key"


async def ensure_database_exists(url: str) -> None:
    """Create the database ``url`` names when missing (the embedded default starts empty)."""
    name = database_name(url)
    try:
        conn = await psycopg.AsyncConnection.connect(
            with_database(url, "postgres"), autocommit=True
        )
    except psycopg.OperationalError as exc:
        raise ConfigurationError(f"Cannot connect to PostgreSQL: {exc}".strip()) from exc
    async with conn:
        found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await found.fetchone() is None:
            try:
                await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it first


def _upgrade_as_owner(roles: EmbeddedRoles, url: str) -> None:
    """Migrate as the platform's role, ``audit_log`` handed back to it meanwhile, when a
    migration is pending (taking the table back costs an exclusive lock on it)."""
    from saas_server.core.migrations import current_heads, upgrade

    if current_heads(url) == _script_heads():
        return
    with audit_log_released(roles, EMBEDDED_DATABASE):
        upgrade(url)


def _script_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from saas_server.core.migrations import alembic_config

    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


def _is_superuser(url: str) -> bool:
    try:
        return is_superuser(url)
    except psycopg.Error:
        return False  # unreachable: the first real query says so in one sentence


class Closable(Protocol):
    """What the runtime needs of a part a domain gives it: to close it with the runtime."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class RuntimeParts:
    """What the domains give every runtime, so core need not name them."""

    # Built for each runtime (it may track the runtime's sessions): auth's principal cache.
    principal_cache: Callable[[Runtime], Closable]
    # Where backup archives live: the backups domain's storage.
    backup_storage: Callable[[Settings], Closable]
    # Recurring jobs every long-running worker defers: task name -> interval in seconds.
    schedule: Callable[[Settings], Mapping[str, float]]
    # The rate-limit plan of a user (one of ``core.ratelimit.PLANS``): the tenants' tiers
    # decide it.
    plan_of: Callable[[Runtime, uuid.UUID], Awaitable[str]]
    # The user an API key belongs to (None: not a key), so a key's calls count against its
    # user's rate limit: auth's API keys.
    api_key_user: Callable[[Runtime, str], Awaitable[uuid.UUID | None]] | None = None
    # The budget of a bearer token another domain issued (the portal's client tokens): its
    # counter's key and limit, or None when the token is none of its own or invalid.
    bearer_budget: Callable[[Runtime, str], tuple[str, str] | None] | None = None
    # The budget of routes a domain limits by a rule of its own instead of the plan's or the
    # anonymous one (the client portal's): given the path and the caller (a user id, or the
    # client IP when anonymous), its counter's key and limit, or None for the general budget.
    route_budget: Callable[[Runtime, str, uuid.UUID | None, str], tuple[str, str] | None] | None = (
        None
    )


_wired_parts: RuntimeParts | None = None


def provide_parts(parts: RuntimeParts) -> None:
    """Make ``parts`` those of every runtime built without its own (``wiring.wire``)."""
    global _wired_parts
    _wired_parts = parts


def wired_parts() -> RuntimeParts:
    if _wired_parts is None:
        raise HookNotConnected(
            "no runtime parts were provided: call saas_server.wiring.wire() first"
        )
    return _wired_parts


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        database_url: str,
        secret_key: str,
        embedded: EmbeddedPostgres | None = None,
        parts: RuntimeParts | None = None,
    ) -> None:
        self.parts = parts or wired_parts()
        self.settings = settings
        self.database_url = libpq_url(database_url)
        self.secret_key = secret_key
        self.embedded = embedded
        self.db = Database(
            self.database_url,
            pool_size=settings.database_pool_size,
            # Keys the audit log's MACs (audit/service.py); the database never holds it.
            session_info={AUDIT_MAC_KEY: derive_key(secret_key, AUDIT_MAC_KEY)},
        )
        self.secrets = SecretBox(secret_key)
        self.access_tokens = AccessTokens(secret_key, settings.access_token_ttl_seconds)
        self.rate_limiter = RateLimiter(settings)
        # Typed as what core needs of them; their domains read them through their own types
        # (``auth.principal_cache.principal_cache_of``, ``backups.flows.storage_of``).
        self.principal_cache: Closable = self.parts.principal_cache(self)
        self.backup_storage: Closable = self.parts.backup_storage(settings)
        self.jobs: procrastinate.App = build_jobs_app(self.database_url)
        self._jobs_open = False
        # The embedded server as the built-in Odoo emulator's own role (None: an external
        # database, where the emulator shares the platform's role).
        self.emulator_database_url: str | None = None

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        database_url: str | None = None,
        migrate: bool = False,
        parts: RuntimeParts | None = None,
    ) -> Runtime:
        parts = parts or wired_parts()  # before starting a server a mistake would leave up
        secret_key = resolve_secret_key(settings)
        check_production_settings(settings)
        embedded: EmbeddedPostgres | None = None
        url = database_url or settings.database_url
        roles: EmbeddedRoles | None = None
        if url is None:
            embedded = EmbeddedPostgres(settings.data_dir / "postgres")
            try:
                server_url = await asyncio.to_thread(embedded.start)
                # The superuser only bootstraps: the platform connects as its owner role.
                roles = await asyncio.to_thread(bootstrap_roles, server_url, EMBEDDED_DATABASE)
            except Exception as exc:
                raise ConfigurationError(
                    f"Could not start the embedded PostgreSQL under {embedded.pgdata}: {exc}"
                ) from exc
            url = roles.platform_url
        elif await asyncio.to_thread(_is_superuser, url):
            logger.warning(
                "SAAS_DATABASE_URL connects as a PostgreSQL superuser, which can switch off "
                "the audit log's append-only trigger; give the platform a role that owns its "
                "database but is no superuser (docs/user-guide.md, 'Database role')"
            )
        if migrate:
            # Imported here, as the other alembic imports below: only migrating needs alembic,
            # and every worker and CLI command would otherwise pay for loading it.
            from saas_server.core.migrations import upgrade

            if roles is not None:
                await asyncio.to_thread(_upgrade_as_owner, roles, url)
            else:
                await asyncio.to_thread(upgrade, url)
        if roles is not None:
            await asyncio.to_thread(seal_audit_log, roles, EMBEDDED_DATABASE)
        runtime = cls(
            settings, database_url=url, secret_key=secret_key, embedded=embedded, parts=parts
        )
        runtime.emulator_database_url = roles.emulator_url if roles is not None else None
        return runtime

    async def open_jobs(self) -> procrastinate.App:
        if not self._jobs_open:
            await self.jobs.open_async()
            self._jobs_open = True
        return self.jobs

    async def run_worker(self, **options: Any) -> None:
        """Run a procrastinate worker whose tasks see this runtime (``core.jobs.runtime_of``)."""
        await self.open_jobs()
        options.setdefault("concurrency", self.settings.worker_concurrency)
        options.setdefault("install_signal_handlers", False)
        options.setdefault("update_heartbeat_interval", self.settings.worker_heartbeat_seconds)
        options.setdefault("stalled_worker_timeout", self.settings.stalled_worker_seconds)
        # A worker starting after a crash picks up the dead worker's jobs at once.
        await self.retry_stalled_jobs()
        scheduler = None
        if options.get("wait", True):
            scheduler = asyncio.create_task(run_schedule(self), name="saas-schedule")
        try:
            await self.jobs.run_worker_async(additional_context={"runtime": self}, **options)
        finally:
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler

    async def retry_stalled_jobs(self) -> int:
        """Put back in the queue the jobs of workers whose heartbeat stopped."""
        await self.open_jobs()
        manager = self.jobs.job_manager
        stalled = list(
            await manager.get_stalled_jobs(
                seconds_since_heartbeat=self.settings.stalled_worker_seconds
            )
        )
        for job in stalled:
            logger.warning("retrying job %s (%s) of a dead worker", job.id, job.task_name)
            try:
                await manager.retry_job(job)
            except procrastinate.exceptions.UniqueViolation as exc:
                if exc.constraint_name != QUEUEING_LOCK_CONSTRAINT:
                    raise
                # A job holding the same queueing lock already waits and will do this
                # work: the dead one ends here (an error would stop this worker for good).
                logger.warning("job %s superseded by a waiting job; aborted", job.id)
                await manager.finish_job(
                    job, status=procrastinate.jobs.Status.ABORTED, delete_job=False
                )
        return len(stalled)

    async def run_pending_jobs(self) -> None:
        """Process every job that is due now, then return (tests and one-shot commands)."""
        await self.run_worker(wait=False, concurrency=1, listen_notify=False)

    async def close(self) -> None:
        """Close every part, each within ``CLOSE_SECONDS``: a part that does not finish (a
        listener connection that never answers, a pool waiting for a connection a dead task
        holds) is abandoned with a warning, so stopping a process never hangs on it."""
        await _bounded("the principal cache", self.principal_cache.close())
        await _bounded("the rate limiter", self.rate_limiter.close())
        await _bounded("the backup storage", self.backup_storage.close())
        if self._jobs_open:
            await _bounded("the job queue's connections", self.jobs.close_async())
            self._jobs_open = False
        await _bounded("the database pool", self.db.dispose())
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


# How long each part of a runtime may take to close before it is abandoned.
CLOSE_SECONDS = 30.0


async def _bounded(part: str, closing: Awaitable[Any]) -> None:
    try:
        await asyncio.wait_for(closing, CLOSE_SECONDS)
    except TimeoutError:
        logger.warning("%s did not close within %.0f s: abandoned", part, CLOSE_SECONDS)


@asynccontextmanager
async def open_runtime(settings: Settings, **kwargs: Any) -> AsyncIterator[Runtime]:
    runtime = await Runtime.open(settings, **kwargs)
    try:
        yield runtime
    finally:
        await runtime.close()
