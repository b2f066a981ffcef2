"""Rate limits: per user by plan, per IP when anonymous, tighter ones for auth endpoints.

Counters live in memory by default and in Redis when ``SAAS_REDIS_URL`` is set, so several
API processes share one budget. A storage failure lets the request through (fail open): an
outage of the counters must not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from saas_platform.core.errors import RateLimited
from saas_platform.core.settings import Settings

logger = logging.getLogger(__name__)

TIER_LIMITS = {
    "starter": "standard",
    "professional": "premium",
    "enterprise": "enterprise",
}


@dataclass(frozen=True)
class LimitState:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.rate_limit_key_prefix
        self.storage: Storage = (
            RedisStorage(
                settings.redis_url.replace("redis://", "async+redis://", 1),
                implementation="redispy",
            )
            if settings.redis_url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {}
        # user id -> (plan, expiry): a tier changes rarely, a DB query per request is dear.
        self._plans: dict[str, tuple[str, float]] = {}

    def item(self, spec: str) -> RateLimitItem:
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = parse(spec)
        return item

    def plan_limit(self, plan: str) -> str:
        return str(getattr(self.settings, f"rate_limit_{plan}"))

    async def hit(self, spec: str, *key: str) -> LimitState | None:
        """Count one request against ``spec`` for ``key``; None when the storage fails."""
        item = self.item(spec)
        try:
            allowed = await self.limiter.hit(item, self.prefix, *key)
            stats = await self.limiter.get_window_stats(item, self.prefix, *key)
        except Exception as exc:  # fail open, loudly
            logger.warning("rate-limit storage unavailable: %s", exc)
            return None
        return LimitState(allowed, item.amount, stats.remaining, math.ceil(stats.reset_time))

    async def check(self, spec: str, *key: str) -> LimitState | None:
        """Like ``hit``, raising 429 when the budget is spent."""
        state = await self.hit(spec, *key)
        if state is not None and not state.allowed:
            raise RateLimited(retry_after=state.retry_after, headers=state.headers())
        return state

    async def plan_of(self, user_id: str, resolve: Callable[[], Awaitable[str]]) -> str:
        cached = self._plans.get(user_id)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        plan = await resolve()
        self._plans[user_id] = (plan, now + self.settings.rate_limit_tier_cache_seconds)
        return plan

    async def healthy(self) -> bool:
        try:
            return bool(await self.storage.check())
        except Exception:
            return False

    async def close(self) -> None:
        # Nothing to release for memory; redis-py pools close with the process.
        return None
