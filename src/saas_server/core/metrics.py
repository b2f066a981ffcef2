"""Prometheus metrics of the HTTP layer, kept in a registry per app (tests build many apps)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "saas_http_requests",
            "HTTP requests handled, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "saas_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "saas_http_requests_in_flight", "Requests being handled.", registry=self.registry
        )
        self.tenants = TenantRequests(self.registry)

    def observe(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        tenant_id: object = None,
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if tenant_id is not None:
            self.tenants.observe(tenant_id, status, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


# Tenants given their own label in /metrics; later ones share ``tenant="other"``, so the
# series a process exports stay bounded however many tenants it serves.
TENANT_LABEL_LIMIT = 100
# Tenants whose figures a process holds between two flushes; beyond, requests are counted
# only in /metrics (a flood of distinct ids cannot grow memory without bound).
TENANT_PENDING_LIMIT = 10_000
# Answers that showed the caller nothing of the tenant (unknown to them, or refused): not
# the tenant's traffic, and attributing them would let anyone mint labels with random ids.
UNATTRIBUTED_STATUSES = frozenset({401, 403, 404})


@dataclass
class TenantRequestTally:
    """One tenant's requests since the last flush: count, 5xx answers, and latency."""

    requests: int = 0
    errors: int = 0
    seconds_total: float = 0.0
    seconds_min: float = float("inf")
    seconds_max: float = 0.0

    def add(self, status: int, seconds: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        self.seconds_total += seconds
        self.seconds_min = min(self.seconds_min, seconds)
        self.seconds_max = max(self.seconds_max, seconds)


class TenantRequests:
    """Requests served about or for a tenant (routes with a ``tenant_id`` path parameter: the
    API's /tenants/{id}/... and the portal's), counted in memory. ``drain`` hands over what
    was counted since the last call (the monitoring flush writes it as metric points)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._pending: dict[uuid.UUID, TenantRequestTally] = {}
        self._labelled: set[str] = set()
        self.requests = Counter(
            "saas_tenant_http_requests",
            "HTTP requests about or for a tenant, by tenant id (the first "
            f"{TENANT_LABEL_LIMIT} seen by this process; the rest as 'other') and status class.",
            ("tenant", "status_class"),
            registry=registry,
        )
        self.seconds = Counter(
            "saas_tenant_http_request_duration_seconds",
            "Total time spent answering a tenant's requests, by tenant (as above).",
            ("tenant",),
            registry=registry,
        )

    def _label(self, tenant: str) -> str:
        if tenant in self._labelled:
            return tenant
        if len(self._labelled) < TENANT_LABEL_LIMIT:
            self._labelled.add(tenant)
            return tenant
        return "other"

    def observe(self, raw_tenant_id: object, status: int, seconds: float) -> None:
        if status in UNATTRIBUTED_STATUSES:
            return
        try:
            tenant_id = uuid.UUID(str(raw_tenant_id))
        except ValueError:
            return
        label = self._label(str(tenant_id))
        self.requests.labels(label, f"{status // 100}xx").inc()
        self.seconds.labels(label).inc(seconds)
        tally = self._pending.get(tenant_id)
        if tally is None:
            if len(self._pending) >= TENANT_PENDING_LIMIT:
                return
            tally = self._pending[tenant_id] = TenantRequestTally()
        tally.add(status, seconds)

    def drain(self) -> dict[uuid.UUID, TenantRequestTally]:
        pending, self._pending = self._pending, {}
        return pending

    def restore(self, pending: dict[uuid.UUID, TenantRequestTally]) -> None:
        """Put back figures a flush could not write (they go with the next one)."""
        for tenant_id, tally in pending.items():
            current = self._pending.setdefault(tenant_id, TenantRequestTally())
            current.requests += tally.requests
            current.errors += tally.errors
            current.seconds_total += tally.seconds_total
            current.seconds_min = min(current.seconds_min, tally.seconds_min)
            current.seconds_max = max(current.seconds_max, tally.seconds_max)
