"""Provider health: a periodic job calls each active provider's ``api_base_url`` and keeps
the outcome; ``GET /api/v1/integrations/health`` answers it in seed 002's shape.

A provider is ``healthy`` when it answers (any status below 500) within the threshold,
``degraded`` when it answers slower, ``down`` on a 5xx, a refused connection or a timeout.
The response time is measured on the monotonic clock (a duration, not a moment); the moment
of the check comes from the platform's clock.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.integrations.models import HealthStatus, IntegrationProvider
from saas_server.integrations.schemas import IntegrationsHealth, ProviderHealth

ERROR_MAX_CHARS = 500
# Checks run side by side, this many at a time.
CONCURRENT_CHECKS = 10


async def _probe(
    http: httpx.AsyncClient, url: str, degraded_ms: int
) -> tuple[HealthStatus, int | None, str | None]:
    started = time.perf_counter()
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        return HealthStatus.DOWN, None, (f"{type(exc).__name__}: {exc}")[:ERROR_MAX_CHARS]
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    if response.status_code >= 500:
        return HealthStatus.DOWN, elapsed_ms, f"HTTP {response.status_code}"
    if elapsed_ms > degraded_ms:
        return HealthStatus.DEGRADED, elapsed_ms, None
    return HealthStatus.HEALTHY, elapsed_ms, None


async def check_providers(runtime: Runtime) -> int:
    """Check every active provider with an ``api_base_url``; return how many were checked.

    The calls happen outside any transaction; each outcome is written in a short one."""
    settings = runtime.settings
    async with runtime.db.sessionmaker() as session:
        targets = (
            await session.execute(
                select(IntegrationProvider.id, IntegrationProvider.api_base_url).where(
                    IntegrationProvider.is_active.is_(True),
                    IntegrationProvider.api_base_url.is_not(None),
                )
            )
        ).all()
    if not targets:
        return 0
    limit = asyncio.Semaphore(CONCURRENT_CHECKS)
    timeout = httpx.Timeout(settings.integrations_health_timeout_seconds)

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:

        async def one(url: str) -> tuple[HealthStatus, int | None, str | None]:
            async with limit:
                return await _probe(http, url, settings.integrations_health_degraded_ms)

        outcomes = await asyncio.gather(*(one(str(url)) for _, url in targets))
    async with runtime.db.transaction() as session:
        for (provider_id, _), (status, elapsed_ms, error) in zip(targets, outcomes, strict=True):
            provider = await session.get(IntegrationProvider, provider_id)
            if provider is None:  # removed meanwhile
                continue
            provider.health_status = status.value
            provider.health_response_time_ms = elapsed_ms
            provider.health_error = error
            provider.health_checked_at = clock.now()
    return len(targets)


def overall_status(statuses: list[str]) -> str:
    """``healthy`` when every checked provider is; ``down`` when every one is down;
    ``degraded`` in between. Providers never checked yet do not count."""
    checked = [s for s in statuses if s != HealthStatus.UNKNOWN.value]
    if all(s == HealthStatus.HEALTHY.value for s in checked):
        return HealthStatus.HEALTHY.value
    if all(s == HealthStatus.DOWN.value for s in checked):
        return HealthStatus.DOWN.value
    return HealthStatus.DEGRADED.value


async def health_report(session: AsyncSession) -> IntegrationsHealth:
    providers = (
        await session.execute(
            select(IntegrationProvider)
            .where(IntegrationProvider.is_active.is_(True))
            .order_by(IntegrationProvider.name)
        )
    ).scalars()
    report = {
        p.name: ProviderHealth(
            status=HealthStatus(p.health_status),
            response_time=p.health_response_time_ms,
            last_check=p.health_checked_at,
            error=p.health_error,
        )
        for p in providers
    }
    return IntegrationsHealth(
        status=overall_status([h.status.value for h in report.values()]), providers=report
    )
