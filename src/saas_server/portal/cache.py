"""The 5-minute cache of reads served straight from a tenant's Odoo (seed 004), in Redis
when ``SAAS_REDIS_URL`` is set (shared by every process), else in this process's memory.

Each tenant's keys carry a generation number; the tenant's Odoo webhook bumps it, which
drops every entry of that tenant at once (old generations expire on their own).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, Protocol

TTL_SECONDS = 300


class DirectCache(Protocol):
    async def get_or_load(
        self, tenant_id: uuid.UUID, key: str, load: Callable[[], Awaitable[Any]]
    ) -> Any: ...

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None: ...


class MemoryCache:
    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[uuid.UUID, str], tuple[float, Any]] = {}

    async def get_or_load(
        self, tenant_id: uuid.UUID, key: str, load: Callable[[], Awaitable[Any]]
    ) -> Any:
        found = self._entries.get((tenant_id, key))
        now = time.monotonic()
        if found is not None and found[0] > now:
            return found[1]
        value = await load()
        self._entries[(tenant_id, key)] = (now + self.ttl, value)
        return value

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        for entry in [k for k in self._entries if k[0] == tenant_id]:
            self._entries.pop(entry, None)


class RedisCache:
    def __init__(self, url: str, ttl: int = TTL_SECONDS) -> None:
        import redis.asyncio as redis

        self.ttl = ttl
        self._redis = redis.Redis.from_url(url)

    async def _generation(self, tenant_id: uuid.UUID) -> int:
        raw = await self._redis.get(f"portal:gen:{tenant_id}")
        return int(raw or 0)

    async def get_or_load(
        self, tenant_id: uuid.UUID, key: str, load: Callable[[], Awaitable[Any]]
    ) -> Any:
        name = f"portal:odoo:{tenant_id}:{await self._generation(tenant_id)}:{key}"
        raw = await self._redis.get(name)
        if raw is not None:
            return json.loads(raw)
        value = await load()
        await self._redis.set(name, json.dumps(value, default=str), ex=self.ttl)
        return value

    async def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        await self._redis.incr(f"portal:gen:{tenant_id}")


@cache
def direct_cache(redis_url: str | None) -> DirectCache:
    return RedisCache(redis_url) if redis_url else MemoryCache()
