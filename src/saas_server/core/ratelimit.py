"""Rate limits: per user by plan, per IP when anonymous, tighter ones for auth endpoints.

Counters live in this process by default and in Redis when ``SAAS_REDIS_URL`` is set, so
several API processes share one budget. Every budget is a moving window, counted as
``limits``' ``MovingWindowRateLimiter`` counts it: N requests in any period-long stretch,
with no burst at a window's edge. A storage failure lets requests through (fail open): an
outage of the counters must not become an outage of the API.

Windows are measured on the injected clock (``core/clock.py``), so tests move time instead
of sleeping. In Redis, ``limits`` stamps hits with the machine's time itself; the injected
clock is the system clock outside tests, so both agree.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MovingWindowSupport, Storage
from limits.storage import storage_from_string
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from saas_server.core import clock
from saas_server.core.errors import ConfigurationError, RateLimited
from saas_server.core.settings import Settings

logger = logging.getLogger(__name__)

# Lowest first. A user's plan is the highest ``rate_limit_class`` of their tenants' billing
# plans (``RuntimeParts.plan_of``; tenants/plans.py); a user in no tenant is on the default.
PLANS = ("standard", "premium", "enterprise", "admin")
DEFAULT_PLAN = "standard"
# The settings holding a limit, all parsed when the limiter is built so a typo stops the
# process at start rather than failing requests.
LIMIT_SETTINGS = (
    *(f"rate_limit_{plan}" for plan in PLANS),
    "rate_limit_anonymous",
    "rate_limit_login",
    "rate_limit_password_reset_email",
    "rate_limit_password_reset_ip",
    "rate_limit_register",
    "rate_limit_webhook_intake",
)

# A Redis command takes well under a millisecond; waiting longer than this for an answer
# only holds the request up, and a hung Redis must not hang the API.
REDIS_TIMEOUT_SECONDS = 0.5
# After a storage failure requests pass unchecked this long before the storage is tried
# again: an outage costs one timeout per interval, not one per request (nor a log line each).
STORAGE_RETRY_SECONDS = 5.0
# Users whose plan is remembered; beyond it the longest-remembered is forgotten.
PLAN_CACHE_MAX_ENTRIES = 100_000
# How often the in-process storage drops the windows of callers gone quiet.
SWEEP_INTERVAL_SECONDS = 60.0


def _now() -> float:
    """Epoch seconds on the injected clock: what windows and resets are measured in."""
    return clock.now().timestamp()


@dataclass(frozen=True, slots=True)
class LimitState:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - _now()))

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class InProcessStorage(Storage, MovingWindowSupport):
    """Counters of this process, for when no Redis is configured.

    ``limits``' own ``MemoryStorage`` starts, after every hit, an expiry pass over every key
    that hands each key to a thread: measured at 30-65 µs a hit on an otherwise idle loop,
    growing with the number of callers. Here a window is a deque of hit times trimmed on
    access (amortized O(1), at most ``limit`` long), and windows gone quiet are dropped
    inline at most once a minute. No operation awaits, so on one event loop none needs a
    lock. Fixed-window counters are here only because ``Storage`` requires them.
    """

    STORAGE_SCHEME = None  # not for storage_from_string: built directly

    def __init__(self) -> None:
        super().__init__()
        # key -> (window length in seconds, hit times oldest first)
        self._windows: dict[str, tuple[int, deque[float]]] = {}
        # key -> (count, expires at)
        self._counters: dict[str, tuple[int, float]] = {}
        self._next_sweep = _now() + SWEEP_INTERVAL_SECONDS

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _window(self, key: str, expiry: int, now: float) -> deque[float]:
        found = self._windows.get(key)
        if found is None:
            if now >= self._next_sweep:
                self._sweep(now)
            entries: deque[float] = deque()
            self._windows[key] = (expiry, entries)
            return entries
        entries = found[1]
        cutoff = now - expiry  # a hit at exactly the cutoff still counts, as in limits
        while entries and entries[0] < cutoff:
            entries.popleft()
        return entries

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_INTERVAL_SECONDS
        for key, (expiry, entries) in list(self._windows.items()):
            if not entries or entries[-1] < now - expiry:
                del self._windows[key]
        for key, (_, expires_at) in list(self._counters.items()):
            if expires_at <= now:
                del self._counters[key]

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = _now()
        entries = self._window(key, expiry, now)
        if len(entries) + amount > limit:
            return False
        entries.extend(itertools.repeat(now, amount))
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = _now()
        if key not in self._windows:
            return now, 0
        entries = self._window(key, expiry, now)
        return (entries[0], len(entries)) if entries else (now, 0)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = _now()
        count, expires_at = self._counters.get(key, (0, 0.0))
        if expires_at <= now:
            count, expires_at = 0, now + expiry
        count += amount
        self._counters[key] = (count, expires_at)
        return count

    async def get(self, key: str) -> int:
        count, expires_at = self._counters.get(key, (0, 0.0))
        return count if expires_at > _now() else 0

    async def get_expiry(self, key: str) -> float:
        now = _now()
        return max(self._counters.get(key, (0, now))[1], now)

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._windows) + len(self._counters)
        self._windows.clear()
        self._counters.clear()
        return count

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)
        self._counters.pop(key, None)


def build_storage(redis_url: str | None) -> Storage:
    """In-process counters, or Redis (any scheme ``limits`` knows: ``redis://``,
    ``rediss://``, ``redis+unix://``, ``redis+sentinel://``, ``redis+cluster://``)."""
    if not redis_url:
        return InProcessStorage()
    options: dict[str, Any] = {
        "implementation": "redispy",
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        # No retries: a failed command fails the check open at once, and the limiter
        # leaves the storage alone for a while (STORAGE_RETRY_SECONDS).
        "retry": Retry(NoBackoff(), 0),
    }
    try:
        storage = storage_from_string(f"async+{redis_url}", **options)
    except Exception as exc:
        raise ConfigurationError(f"SAAS_REDIS_URL is not usable: {exc}") from exc
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.rate_limit_key_prefix
        self.storage = build_storage(settings.redis_url)
        if not isinstance(self.storage, MovingWindowSupport):
            raise ConfigurationError("The rate-limit storage cannot count moving windows")
        self.windows: MovingWindowSupport = self.storage
        self._items: dict[str, RateLimitItem] = {}
        for name in LIMIT_SETTINGS:
            spec = getattr(settings, name)
            try:
                self._items[spec] = parse(spec)
            except ValueError as exc:
                env = f"SAAS_{name.upper()}"
                raise ConfigurationError(
                    f"{env}={spec!r} is not a rate limit such as '60/minute'"
                ) from exc
        self.plan_limits = {
            plan: self.item(getattr(settings, f"rate_limit_{plan}")) for plan in PLANS
        }
        self.anonymous_limit = self.item(settings.rate_limit_anonymous)
        self.intake_limit = self.item(settings.rate_limit_webhook_intake)
        self.intake_paths = tuple(settings.rate_limit_intake_paths)
        # user id -> (plan, when to look again): a plan changes rarely, a DB query per
        # request is dear. Insertion order is age order, for evicting beyond the bound.
        self._plans: dict[str, tuple[str, float]] = {}
        self._plan_ttl = settings.rate_limit_tier_cache_seconds
        self._storage_retry_at = 0.0  # monotonic; storage skipped until then

    def item(self, spec: str) -> RateLimitItem:
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = parse(spec)
        return item

    async def hit(self, limit: RateLimitItem | str, *key: str) -> LimitState | None:
        """Count one request against ``limit`` for ``key``; None when the storage fails."""
        if self._storage_retry_at and time.monotonic() < self._storage_retry_at:
            return None
        item = limit if isinstance(limit, RateLimitItem) else self.item(limit)
        # What MovingWindowRateLimiter's hit and get_window_stats do, with the key built
        # once: building it (escaping each part) cost as much as counting the hit.
        name, expiry = item.key_for(self.prefix, *key), item.get_expiry()
        try:
            allowed = await self.windows.acquire_entry(name, item.amount, expiry)
            window_start, window_hits = await self.windows.get_moving_window(
                name, item.amount, expiry
            )
        except Exception as exc:  # fail open, loudly
            self._storage_retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
            logger.warning(
                "rate-limit counters unavailable, requests pass unchecked for %.0f s: %r",
                STORAGE_RETRY_SECONDS,
                exc,
            )
            return None
        self._storage_retry_at = 0.0
        remaining = item.amount - window_hits
        return LimitState(allowed, item.amount, remaining, math.ceil(window_start + expiry))

    async def check(self, limit: RateLimitItem | str, *key: str) -> LimitState | None:
        """Like ``hit``, raising 429 when the budget is spent."""
        state = await self.hit(limit, *key)
        if state is not None and not state.allowed:
            raise RateLimited(retry_after=state.retry_after, headers=state.headers())
        return state

    async def plan_of(self, user_id: str, resolve: Callable[[], Awaitable[str]]) -> str:
        """The plan of ``user_id``, from memory or else from ``resolve`` (a DB lookup)."""
        now = time.monotonic()
        cached = self._plans.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            plan = await resolve()
        except Exception:
            # Failing open like the counters: the endpoint reports its own DB trouble.
            logger.warning("plan of user %s unknown, counted as %s", user_id, DEFAULT_PLAN)
            return DEFAULT_PLAN
        self._plans.pop(user_id, None)
        if len(self._plans) >= PLAN_CACHE_MAX_ENTRIES:
            del self._plans[next(iter(self._plans))]
        self._plans[user_id] = (plan, now + self._plan_ttl)
        return plan

    async def healthy(self) -> bool:
        try:
            return bool(await self.storage.check())
        except Exception:
            return False

    async def close(self) -> None:
        self._plans.clear()
        if isinstance(self.storage, InProcessStorage):
            await self.storage.reset()
            return
        # The redis-py client of limits' Redis storages; closing it closes its pool.
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()
