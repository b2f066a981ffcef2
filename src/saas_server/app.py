"""The application factory. ``saas serve`` builds the app from here; so do the tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from saas_server import __version__
from saas_server.admin.console_router import router as admin_console_router
from saas_server.admin.maintenance import MaintenanceMiddleware, MaintenanceSwitch
from saas_server.admin.router import router as admin_router
from saas_server.auth.api_keys_router import router as api_keys_router
from saas_server.auth.router import router as auth_router
from saas_server.auth.scopes import security_requirements
from saas_server.backups.router import router as backups_router
from saas_server.billing.admin_router import router as billing_admin_router
from saas_server.billing.invoice_router import router as invoices_router
from saas_server.billing.provider_event_router import router as provider_events_router
from saas_server.billing.router import router as billing_router
from saas_server.core.docs import install_offline_docs
from saas_server.core.http import install_error_handlers
from saas_server.core.metrics import HttpMetrics
from saas_server.core.middleware import RequestPipelineMiddleware
from saas_server.core.openapi import document_api
from saas_server.core.operation_ids import operation_id
from saas_server.core.ratelimit_middleware import RateLimitMiddleware
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings, get_settings
from saas_server.dashboard.router import routers as dashboard_routers
from saas_server.directory.router import router as users_router
from saas_server.health.router import router as health_router
from saas_server.instances.hosts.router import router as hosts_router
from saas_server.instances.router import router as instances_router
from saas_server.integrations.router import router as integrations_router
from saas_server.logs.router import router as audit_router
from saas_server.marketing.router import (
    ai_router,
    seo_router,
    social_analytics_router,
    social_router,
)
from saas_server.monitoring.requests import flush_periodically
from saas_server.monitoring.router import router as monitoring_router
from saas_server.moves.router import router as moves_router
from saas_server.portal.router import FILES_UPLOAD_PATH
from saas_server.portal.router import router as portal_router
from saas_server.realtime.hub import EventHub
from saas_server.realtime.router import router as events_router
from saas_server.security.middleware import SecurityMiddleware, block_list_of
from saas_server.security.router import router as security_router
from saas_server.tenants.router import router as tenants_router
from saas_server.webhooks.router import router as webhooks_router
from saas_server.wiring import start_runtime, wire

logger = logging.getLogger(__name__)


class PlatformApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # The pipeline wraps even Starlette's ServerErrorMiddleware, so a 500 carries the
        # request id and security headers like every other answer.
        return RequestPipelineMiddleware(
            super().build_middleware_stack(),
            metrics=self.state.metrics,
            max_body_bytes=self.state.settings.max_body_bytes,
            # The portal's uploads: the file's own limit, plus room for the multipart framing.
            body_limits={
                FILES_UPLOAD_PATH: self.state.settings.portal_upload_max_bytes + 64 * 1024
            },
        )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_worker: bool = False,
) -> FastAPI:
    """Build the API.

    With ``runtime`` given (``saas serve``, tests) the app uses it and leaves closing it to
    the caller; otherwise the lifespan opens one (migrating the database) and closes it.
    ``run_worker`` runs a job worker inside the process for the app's lifetime.
    """
    wire()
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_runtime = runtime is None
        rt = runtime or await start_runtime(settings, migrate=True)
        app.state.runtime = rt
        # The block list listens for changes from other processes while the app serves.
        block_list = block_list_of({"app": app})
        block_list.start()
        if getattr(app.state, "maintenance", None) is None:
            app.state.maintenance = MaintenanceSwitch(rt)
        # Served from memory once its listener hears changes (without a lifespan: read each time).
        app.state.maintenance.start()
        # One LISTEN per process feeds every event stream it serves (realtime/hub.py).
        if getattr(app.state, "event_hub", None) is None:
            app.state.event_hub = EventHub(rt.database_url)
        app.state.event_hub.start()
        # Per-tenant request figures, counted in memory, written every so often.
        request_flush = asyncio.create_task(
            flush_periodically(
                rt, app.state.metrics.tenants, settings.metrics_request_flush_seconds
            ),
            name="saas-tenant-request-flush",
        )
        worker: asyncio.Task[None] | None = None
        if run_worker:
            worker = asyncio.create_task(rt.run_worker(), name="saas-worker")
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            request_flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await request_flush
            await block_list.close()
            await app.state.maintenance.close()
            await app.state.event_hub.close()
            if own_runtime:
                await rt.close()

    app = PlatformApp(
        title="Odoo SaaS Platform",
        version=__version__,
        description="Tenants, Odoo instances, backups, billing and webhooks. "
        'Errors follow one envelope: `{"error": {code, message, details, request_id, timestamp}}`.',
        lifespan=lifespan,
        # Served by install_offline_docs below, from an installed package instead of a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        redirect_slashes=False,
        # Readable, stable operationIds (core/operation_ids.py): the SDKs' method names.
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.metrics = HttpMetrics()
    # Since when this process's HTTP figures count (the admin console's request rates).
    app.state.started_monotonic = time.monotonic()
    app.state.maintenance = None
    app.state.event_hub = None
    if runtime is not None:
        app.state.runtime = runtime
        app.state.maintenance = MaintenanceSwitch(runtime)
    app.add_middleware(RateLimitMiddleware)
    # Outside the rate limiter: a call refused for maintenance spends no budget.
    app.add_middleware(MaintenanceMiddleware)
    # Outside the rate limiter: a blocked IP spends no budget, and 429s are seen leaving.
    app.add_middleware(SecurityMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
            ],
        )
    install_error_handlers(app)
    install_offline_docs(app)
    for router in (
        health_router,
        auth_router,
        api_keys_router,
        users_router,
        tenants_router,
        instances_router,
        hosts_router,
        audit_router,
        backups_router,
        provider_events_router,
        moves_router,
        webhooks_router,
        events_router,
        integrations_router,
        security_router,
        monitoring_router,
        billing_router,
        invoices_router,
        billing_admin_router,
        admin_router,
        admin_console_router,
        ai_router,
        seo_router,
        social_router,
        social_analytics_router,
        # Last: its prefix is all of /api/v1, and the routes above are tried first.
        portal_router,
    ):
        app.include_router(router)
    # The web dashboard (decision 0022): pages at / and /app, its assets at /static.
    for page_router in dashboard_routers:
        app.include_router(page_router)
    document_api(app, security=security_requirements)
    return app
