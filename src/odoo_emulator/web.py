"""Odoo's routes, but for the database manager's (``database_manager.py``): the RPC
endpoints and the web routes other clients use (odoo-protocol.md sections 1.1, 7, 11.2).

- ``/jsonrpc`` and ``/xmlrpc[/2]/<service>``;
- ``/web/session/authenticate`` logs a session in (cookie ``session_id``) and answers the
  session info; ``/web/dataset/call_kw`` runs ORM calls in it; ``/web/webclient/
  version_info`` answers ``common.version``;
- ``/web/login`` (form login with Odoo's CSRF token), ``/web`` / ``/odoo`` (a stand-in for the
  web client page), ``/web/health``, ``/web/version`` (19.0).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from odoo_emulator import security
from odoo_emulator.database_manager import DatabaseManagerRoutes
from odoo_emulator.errors import (
    AccessDenied,
    NoDatabase,
    NotFound,
    SessionExpiredException,
    jsonrpc_error,
)
from odoo_emulator.jsonrpc import (
    JSON_MIMETYPES,
    JsonRequestError,
    bind_params,
    envelope,
    handle_json,
    json_response,
    log_rpc_error,
    mimetype,
    not_found,
    parse_json_request,
    werkzeug_error_page,
    without_nosniff,
    wrong_content_type,
)
from odoo_emulator.orm.env import Env
from odoo_emulator.pages import escape, html_response, login_page, page, path_and_query, redirect
from odoo_emulator.runtime import RequestInfo
from odoo_emulator.services import db as db_service
from odoo_emulator.services import dispatch_rpc
from odoo_emulator.services.object import call_kw, check_method_name_17
from odoo_emulator.websession import WebRequest, session_info


class WebRoutes(DatabaseManagerRoutes):
    """The route handlers (Starlette endpoints) of one emulator."""

    # -- JSON-RPC ----------------------------------------------------------------------------

    async def jsonrpc(self, request: Request) -> Response:
        async def endpoint(service: Any, method: Any, args: Any) -> Any:
            # RPC runs without a request (dispatch_rpc unexposes it).
            return await dispatch_rpc(self.emulator, service, method, args, RequestInfo())

        return await handle_json(request, self.version, endpoint, "RPC.jsonrpc")

    async def xmlrpc(self, request: Request) -> Response:
        from odoo_emulator.xmlrpc import handle_xmlrpc

        service = request.path_params["service"]
        legacy = not request.url.path.startswith("/xmlrpc/2/")
        body = await request.body()

        async def call(method: str, params: tuple[Any, ...]) -> Any:
            return await dispatch_rpc(self.emulator, service, method, list(params), RequestInfo())

        return await handle_xmlrpc(body, call, legacy=legacy, odoo18=self.version.major >= 18)

    async def _json_route(
        self,
        request: Request,
        endpoint_factory: Callable[[WebRequest], Callable[..., Awaitable[Any]]],
        name: str,
        *,
        auth_user: bool = False,
    ) -> Response:
        """A ``type='json'`` web route (Odoo's controller method ``name``).

        As in Odoo: the Content-Type is checked first, then (``auth='user'``) the session,
        whose failure is answered before the body is read, so with a null ``id``; then the
        body. The session is saved (cookie) after a success only: error envelopes come from
        Odoo's error handler, which does not save it.
        """
        web = WebRequest(self.emulator, request)
        if mimetype(request) not in JSON_MIMETYPES:
            return wrong_content_type(request.url.path, self.version)
        if auth_user:
            try:
                await web.require_user()
            except NoDatabase:
                return not_found()
            except SessionExpiredException as exc:
                error = jsonrpc_error(exc, code_for_other=self.version.jsonrpc_error_code)
                return json_response(envelope(None, error=error), success=False)
        try:
            request_id, params = await parse_json_request(request, self.version)
        except JsonRequestError as exc:
            return exc.response
        endpoint = endpoint_factory(web)
        try:
            result = await endpoint(**bind_params(endpoint, params, name))
        except NoDatabase:
            return not_found()
        except Exception as exc:
            log_rpc_error(exc)
            error = jsonrpc_error(exc, code_for_other=self.version.jsonrpc_error_code)
            # A werkzeug NotFound is answered by Odoo's error handler with a null id (18.0).
            answer_id = None if isinstance(exc, NotFound) else request_id
            return json_response(envelope(answer_id, error=error), success=False)
        return web.finish(json_response(envelope(request_id, result=result), success=True))

    async def session_authenticate(self, request: Request) -> Response:
        def factory(web: WebRequest) -> Callable[..., Awaitable[Any]]:
            async def authenticate(
                db: str, login: str, password: str, base_location: str | None = None
            ) -> Any:
                uid = await web.authenticate(db, login, password)
                return await session_info(self.emulator, db, uid, web.session)

            return authenticate

        return await self._json_route(request, factory, "Session.authenticate")

    async def session_get_info(self, request: Request) -> Response:
        def factory(web: WebRequest) -> Callable[..., Awaitable[Any]]:
            async def get_session_info() -> Any:
                assert web.db is not None and web.session.uid is not None
                web.session.dirty = True  # request.session.touch()
                return await session_info(self.emulator, web.db, web.session.uid, web.session)

            return get_session_info

        return await self._json_route(request, factory, "Session.get_session_info", auth_user=True)

    async def session_destroy(self, request: Request) -> Response:
        def factory(web: WebRequest) -> Callable[..., Awaitable[Any]]:
            async def destroy() -> Any:
                web.session.logout()
                return None

            return destroy

        return await self._json_route(request, factory, "Session.destroy", auth_user=True)

    async def session_logout(self, request: Request) -> Response:
        web = self.page_request(request)
        await web.resolve_db()
        web.session.logout(keep_db=True)
        target = request.query_params.get("redirect") or self.version.web_client_path
        response = redirect(target)
        # ir.http._post_logout forgets the selected companies.
        response.set_cookie("cids", "", max_age=0, expires=0, path="/", samesite=None)
        return web.finish(response)

    async def call_kw(self, request: Request) -> Response:
        def factory(web: WebRequest) -> Callable[..., Awaitable[Any]]:
            async def call_kw_endpoint(
                model: str, method: str, args: list[Any], kwargs: dict[str, Any], path: Any = None
            ) -> Any:
                db, uid = web.db, web.session.uid
                assert db is not None and uid is not None
                if self.version.private_check_by_name_only:
                    check_method_name_17(method)

                async def work(env: Env) -> Any:
                    recs = env.get(model)
                    if recs is None:
                        # 17.0: request.env[model] is a KeyError; 18.0 answers NotFound.
                        if self.version.major >= 18:
                            raise NotFound()
                        raise KeyError(model)
                    return await call_kw(recs, method, list(args), dict(kwargs or {}))

                return await self.emulator.run_as(db, uid, work, context=web.session.context)

            return call_kw_endpoint

        return await self._json_route(request, factory, "DataSet.call_kw", auth_user=True)

    async def version_info(self, request: Request) -> Response:
        def factory(web: WebRequest) -> Callable[..., Awaitable[Any]]:
            async def version_info() -> Any:
                return self.version.common_version()

            return version_info

        return await self._json_route(request, factory, "WebClient.version_info")

    async def database_list(self, request: Request) -> Response:
        def factory(web: WebRequest) -> Callable[..., Awaitable[Any]]:
            async def list_databases() -> Any:
                return await db_service.list_dbs(self.emulator)

            return list_databases

        return await self._json_route(request, factory, "Database.list")

    # -- plain HTTP --------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-store"}
        if self.version.health_db_server_status and request.query_params.get("db_server_status"):
            try:
                async with self.emulator.pg.admin() as conn:
                    await conn.execute("SELECT 1")
            except psycopg.Error:
                return JSONResponse(
                    {"status": "fail", "db_server_status": False}, status_code=500, headers=headers
                )
            return JSONResponse({"status": "pass", "db_server_status": True}, headers=headers)
        return Response('{"status": "pass"}', media_type="application/json", headers=headers)

    async def web_version(self, request: Request) -> Response:
        if not self.version.web_version_route:
            return not_found()
        info = self.version.common_version()
        return JSONResponse(
            {"version_info": info["server_version_info"], "version": info["server_version"]}
        )

    async def root(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return redirect(self.version.web_client_path + query)

    async def ensure_db(self, web: WebRequest) -> Response | None:
        """web.controllers.utils.ensure_db: settle the session's database or redirect."""
        request = web.request
        databases = await db_service.list_dbs(self.emulator, force=True)
        requested = (request.query_params.get("db") or "").strip() or None
        if requested not in databases:
            requested = None
        session = web.session
        if requested and not session.db:
            session.db = requested
            session.dirty = True
            return web.finish(redirect(path_and_query(request), 302))
        db = requested
        if not db and session.db and session.db in databases:
            db = session.db
        if not db and len(databases) == 1:
            db = databases[0]
        if not db:
            return web.finish(redirect("/web/database/selector", 303))
        if db != session.db:
            web.session = self.emulator.sessions.new()
            web.session.db = db
            web.session.dirty = True
            return web.finish(redirect(path_and_query(request), 302))
        web.db = db
        return None

    async def web_client(self, request: Request) -> Response:
        web = self.page_request(request)
        early = await self.ensure_db(web)
        if early is not None:
            return early
        session = web.session
        if not session.uid:
            query = urlencode(dict(request.query_params))
            return web.finish(redirect("/web/login" + (f"?{query}" if query else ""), 303))
        assert web.db is not None
        if not await security.check_session_token(
            self.emulator, web.db, session.uid, session.sid, session.session_token
        ):
            session.logout(keep_db=True)
            return web.finish(redirect("/web/login", 303))
        session.dirty = True  # request.session.touch()
        body = page("Odoo", f'<div id="webclient" data-db="{escape(web.db)}"></div>')
        response = html_response(body)
        response.headers["X-Frame-Options"] = "DENY"
        return web.finish(response)

    async def login(self, request: Request) -> Response:
        web = self.page_request(request)
        form: dict[str, Any] = {}
        if request.method == "POST":
            form = dict(await request.form())
            await web.resolve_db()
            if web.db is None:
                return web.finish(redirect("/web/database/selector", 303))
            if not await web.validate_csrf(form.pop("csrf_token", None)):
                return without_nosniff(
                    html_response(
                        werkzeug_error_page(
                            400, "Bad Request", "Session expired (invalid CSRF token)"
                        ),
                        400,
                    )
                )
        early = await self.ensure_db(web)
        if early is not None:
            return early
        assert web.db is not None
        params = {**dict(request.query_params), **form}
        redirect_to = params.get("redirect")
        if request.method == "GET" and redirect_to and web.session.uid:
            return web.finish(redirect(redirect_to, 303))
        error = None
        if request.method == "POST":
            try:
                await web.authenticate(web.db, params.get("login", ""), params.get("password", ""))
                return web.finish(redirect(redirect_to or self.version.web_client_path, 303))
            except AccessDenied as exc:
                error = (
                    "Wrong login/password" if exc.args == AccessDenied().args else str(exc.args[0])
                )
        databases = await db_service.list_dbs(self.emulator, force=True)
        page = login_page(
            await web.csrf_token(), web.db, databases, error, params.get("login", ""), redirect_to
        )
        response = html_response(page)
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
        return web.finish(response)

    # -- database manager --------------------------------------------------------------------
