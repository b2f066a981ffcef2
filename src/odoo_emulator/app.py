"""The emulator's ASGI application: Odoo's routes on Starlette."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from odoo_emulator.jsonrpc import HTML, NO_NOSNIFF, not_found, werkzeug_error_page
from odoo_emulator.runtime import Emulator
from odoo_emulator.web import WebRoutes


class NosniffMiddleware:
    """``X-Content-Type-Options: nosniff`` on what Odoo's dispatcher finishes: every response
    but 404/405s and those marked with ``NO_NOSNIFF`` (error envelopes, requests refused
    before dispatch), as observed on 17.0 and 18.0."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                original = list(message.get("headers", []))
                headers = [(k, v) for k, v in original if k.lower() != NO_NOSNIFF.encode()]
                if len(headers) == len(original) and message["status"] not in (404, 405):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


# What Werkzeug's debugger serves for ``?__debugger__=yes&cmd=resource&f=<name>`` (its
# ``shared/`` directory); the emulator answers with stand-ins of the same types.
DEBUGGER_RESOURCES = {
    "debugger.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "console.png": "image/png",
    "less.png": "image/png",
    "more.png": "image/png",
    "ICON_LICENSE.md": "text/markdown; charset=utf-8",
}


class WerkzeugDebuggerMiddleware:
    """Odoo started with ``--dev=werkzeug`` (or ``all``): ``server.app =
    DebuggedApplication(server.app, evalex=True)``. On any path, a query with
    ``__debugger__=yes`` and ``cmd=resource`` is answered by the debugger itself (its
    static files, 404 for a name it does not have) before Odoo sees the request; the
    other commands need the debugger's secret and fall through. An exception on an HTTP
    route then shows the interactive traceback page (not emulated)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            if (
                request.query_params.get("__debugger__") == "yes"
                and request.query_params.get("cmd") == "resource"
                and request.query_params.get("f")
            ):
                name = request.query_params["f"]
                media_type = DEBUGGER_RESOURCES.get(name)
                if media_type is None:
                    response = Response("Not Found", status_code=404, media_type="text/plain")
                else:
                    body = f"/* werkzeug debugger resource {name} (odoo emulator) */\n"
                    response = Response(body, media_type=media_type)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(emulator: Emulator) -> Starlette:
    """The app for a started ``emulator`` (``Emulator.start_sync`` ran already)."""
    web = WebRoutes(emulator)

    async def xmlrpc(request: Request) -> Response:
        if request.method != "POST":
            response = Response(
                werkzeug_error_page(
                    405, "Method Not Allowed", "The method is not allowed for the requested URL."
                ),
                status_code=405,
                media_type=HTML,
            )
            response.headers["Allow"] = "OPTIONS, POST"
            return response
        return await web.xmlrpc(request)

    async def page_not_found(request: Request, exc: Exception) -> Response:
        return not_found()

    any_method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/jsonrpc", web.jsonrpc, methods=any_method),
        Route("/xmlrpc/2/{service}", xmlrpc, methods=any_method),
        Route("/xmlrpc/{service}", xmlrpc, methods=any_method),
        Route("/web/session/authenticate", web.session_authenticate, methods=any_method),
        Route("/web/session/get_session_info", web.session_get_info, methods=any_method),
        Route("/web/session/destroy", web.session_destroy, methods=any_method),
        Route("/web/session/logout", web.with_session(web.session_logout), methods=["GET", "POST"]),
        Route("/web/dataset/call_kw", web.call_kw, methods=any_method),
        Route("/web/dataset/call_kw/{path:path}", web.call_kw, methods=any_method),
        Route("/web/webclient/version_info", web.version_info, methods=any_method),
        Route("/web/database/list", web.database_list, methods=any_method),
        Route(
            "/web/database/manager", web.with_session(web.database_manager), methods=["GET", "POST"]
        ),
        Route(
            "/web/database/selector",
            web.with_session(web.database_selector),
            methods=["GET", "POST"],
        ),
        Route("/web/database/create", web.with_session(web.database_create), methods=["POST"]),
        Route(
            "/web/database/duplicate", web.with_session(web.database_duplicate), methods=["POST"]
        ),
        Route("/web/database/drop", web.with_session(web.database_drop), methods=["POST"]),
        Route("/web/database/backup", web.with_session(web.database_backup), methods=["POST"]),
        Route("/web/database/restore", web.with_session(web.database_restore), methods=["POST"]),
        Route(
            "/web/database/change_password",
            web.with_session(web.database_change_password),
            methods=["POST"],
        ),
        Route("/web/health", web.health, methods=["GET", "HEAD"]),
        Route("/web/version", web.web_version, methods=["GET"]),
        Route("/web/login", web.with_session(web.login), methods=["GET", "POST"]),
        Route("/web", web.with_session(web.web_client), methods=["GET"]),
        Route("/", web.with_session(web.root), methods=["GET"]),
    ]
    if emulator.version.web_client_path != "/web":
        routes.append(
            Route(
                emulator.version.web_client_path, web.with_session(web.web_client), methods=["GET"]
            )
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emulator.aclose()

    return Starlette(
        routes=routes,
        middleware=[
            *(
                [Middleware(WerkzeugDebuggerMiddleware)]
                if emulator.config.werkzeug_debugger
                else []
            ),
            Middleware(NosniffMiddleware),
        ],
        exception_handlers={404: page_not_found},
        lifespan=lifespan,
    )
