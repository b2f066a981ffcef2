"""Web sessions: one request's session, database and cookie, Odoo's session info, and the
base of the route handlers (odoo-protocol.md sections 1.1, 7, 11.2).

The request's database is, as in Odoo, the session's one when it is still listed, else the
only database when there is exactly one (monodb), else none.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from odoo_emulator import security
from odoo_emulator.errors import NoDatabase, OperationalError, SessionExpiredException
from odoo_emulator.orm.env import Env
from odoo_emulator.runtime import Emulator, RequestInfo
from odoo_emulator.services import db as db_service
from odoo_emulator.sessions import SESSION_LIFETIME, Session

logger = logging.getLogger(__name__)

CSRF_TOKEN_SALT = 60 * 60 * 24 * 365
DEFAULT_MAX_CONTENT_LENGTH = 128 * 1024 * 1024
COOKIE_EXPIRES = 60 * 60 * 24 * 365


class WebRequest:
    """One HTTP request's session, database and cookie bookkeeping."""

    def __init__(self, emulator: Emulator, request: Request, *, save_session: bool = True) -> None:
        self.emulator = emulator
        self.request = request
        self.save_session = save_session
        self.cookie_sid = request.cookies.get("session_id")
        self.session: Session = emulator.sessions.get(self.cookie_sid)
        self.db: str | None = None
        self.finished = False

    @property
    def info(self) -> RequestInfo:
        client = self.request.client
        return RequestInfo(remote_addr=client.host if client else "n/a")

    @property
    def url_root(self) -> str:
        """scheme://host[:port] of the request (werkzeug ``url_root`` without the slash)."""
        url = self.request.url
        return f"{url.scheme}://{url.netloc}"

    async def resolve_db(self) -> str | None:
        """http.py ``_get_session_and_dbname`` then ``_serve_db``. The session's db is taken
        when ``db_filter`` passes it; with no dbfilter and no ``db_name`` (the emulator has
        neither) it passes any name, without looking the database up. A session with no db
        gets the only listed database (monodb). Then, if the registry cannot be loaded (the
        database is gone, closed or not Odoo's), the session forgets the db, is saved, and
        the request is served without a database: a route needing one is a 404."""
        session = self.session
        if not session.db:
            databases = await db_service.list_dbs(self.emulator, force=True)
            session.db = databases[0] if len(databases) == 1 else None
        db = session.db
        if db is not None:
            try:
                await self.emulator.registry(db)
            except (OperationalError, psycopg.Error, KeyError):
                db = session.db = None
                self.emulator.sessions.save(session)
        self.db = db
        return db

    def finish(self, response: Response) -> Response:
        """Save the session and set the cookie as Odoo's ``_save_session`` does (once)."""
        if not self.save_session or self.finished:
            return response
        self.finished = True
        session = self.session
        changed = session.dirty or session.rotated
        if changed:
            self.emulator.sessions.save(session)
        if changed or self.cookie_sid != session.sid:
            # werkzeug writes Expires a year ahead next to the 7-day Max-Age (observed).
            response.set_cookie(
                "session_id",
                session.sid,
                max_age=SESSION_LIFETIME,
                expires=COOKIE_EXPIRES,
                httponly=True,
                path="/",
                samesite=None,
            )
        return response

    # -- csrf ---------------------------------------------------------------------------------

    async def database_secret(self) -> str:
        assert self.db is not None

        async def read(env: Env) -> str:
            model: Any = env.sudo()["ir.config_parameter"]
            return str(await model.raw_get("database.secret") or "")

        return await self.emulator.run_as(self.db, 1, read)

    async def csrf_token(self) -> str:
        """``request.csrf_token()``: an HMAC of the session id, keyed by database.secret."""
        secret = await self.database_secret()
        max_ts = int(time.time() + CSRF_TOKEN_SALT)
        message = f"{self.session.sid}{max_ts}".encode()
        digest = hmac.new(secret.encode("ascii"), message, hashlib.sha1).hexdigest()
        return f"{digest}o{max_ts}"

    async def validate_csrf(self, token: str | None) -> bool:
        if not token or self.db is None:
            return False
        digest, _, max_ts = token.rpartition("o")
        if max_ts:
            try:
                if int(max_ts) < int(time.time()):
                    return False
            except ValueError:
                return False
        secret = await self.database_secret()
        message = f"{self.session.sid}{max_ts}".encode()
        expected = hmac.new(secret.encode("ascii"), message, hashlib.sha1).hexdigest()
        return hmac.compare_digest(digest, expected)

    # -- login ---------------------------------------------------------------------------------

    async def authenticate(self, db: str, login: str, password: str) -> int:
        """``Session.authenticate``: check, then log the session in under a new id. Web
        logins pass ``base_location`` (web.base.url follows a Settings user's login)."""
        info = RequestInfo(remote_addr=self.info.remote_addr, base_location=self.url_root)
        uid = await security.authenticate(self.emulator, db, login, password, info)

        async def context_of(env: Env) -> dict[str, Any]:
            model: Any = env["res.users"]
            result: dict[str, Any] = await model.context_get()
            return result

        context = await self.emulator.run_as(db, uid, context_of)
        session = self.session
        session.db, session.uid, session.login, session.context = db, uid, login, context
        self.emulator.sessions.rotate(session)
        session.session_token = await security.compute_session_token(
            self.emulator, db, uid, session.sid
        )
        session.dirty = True
        self.db = db
        return uid

    async def require_user(self) -> tuple[str, int]:
        """``auth='user'``: a database, a logged-in session with a valid token."""
        db = await self.resolve_db()
        if db is None:
            raise NoDatabase()
        session = self.session
        if not session.uid:
            raise SessionExpiredException("Session expired")
        valid = await security.check_session_token(
            self.emulator, db, session.uid, session.sid, session.session_token
        )
        if not valid:
            session.logout(keep_db=True)
            raise SessionExpiredException("Session expired")
        return db, session.uid


# -- session info -----------------------------------------------------------------------------


async def session_info(emulator: Emulator, db: str, uid: int, session: Session) -> dict[str, Any]:
    """``ir.http.session_info`` (the parts clients read; section 11.2)."""

    async def build(env: Env) -> dict[str, Any]:
        users: Any = env["res.users"]
        context = await users.context_get()
        groups = await env.groups()
        cur = await env.conn.execute(
            "SELECT u.login, p.name, p.id, p.complete_name, u.company_id, p.write_date"
            " FROM res_users u JOIN res_partner p ON p.id = u.partner_id WHERE u.id = %s",
            (uid,),
        )
        row = await cur.fetchone()
        assert row is not None
        login, name, partner_id, partner_display, company_id, partner_write_date = row
        cur = await env.conn.execute(
            "SELECT c.id, c.name, c.sequence, c.parent_id FROM res_company c"
            " JOIN res_company_users_rel r ON r.cid = c.id WHERE r.user_id = %s ORDER BY c.id",
            (uid,),
        )
        companies = await cur.fetchall()
        allowed = {
            cid: {
                "id": cid,
                "name": cname,
                "sequence": sequence,
                "child_ids": [c[0] for c in companies if c[3] == cid],
                "parent_id": parent or False,
            }
            for cid, cname, sequence, parent in companies
        }
        cur = await env.conn.execute(
            "SELECT id, symbol, position, decimal_places FROM res_currency WHERE active ORDER BY id"
        )
        currencies = {
            cid: {"symbol": symbol, "position": position, "digits": [69, places or 2]}
            for cid, symbol, position, places in await cur.fetchall()
        }
        params: Any = env.sudo()["ir.config_parameter"]
        base_url = await params.raw_get("web.base.url") or ""
        settings_id = await _users_settings_id(env, uid)
        version = emulator.version.common_version()
        is_system = "base.group_system" in groups
        # Keys each version adds (web, web_tour...), as observed on 17.0 and 18.0.
        if emulator.version.major >= 18:
            extra: dict[str, Any] = {
                "is_public": "base.group_public" in groups,
                "partner_write_date": partner_write_date.strftime("%Y-%m-%d %H:%M:%S")
                if partner_write_date
                else False,
                "test_mode": False,
                "view_info": VIEW_INFO,
                "websocket_worker_version": f"{emulator.version.serie}-5",
                "tour_enabled": True,
                "current_tour": False,
            }
        else:
            extra = {"user_id": [uid], "web_tours": [], "tour_disable": False}
        multi_company = "base.group_multi_company" in groups and len(allowed) > 1
        return {
            "uid": uid,
            "is_system": is_system,
            "is_admin": is_system or "base.group_erp_manager" in groups,
            "is_internal_user": "base.group_user" in groups,
            "user_context": context,
            "db": db,
            "user_settings": {"id": settings_id, "user_id": {"id": uid}},
            "server_version": version["server_version"],
            "server_version_info": version["server_version_info"],
            "support_url": "https://www.odoo.com/buy",
            "name": name,
            "username": login,
            "partner_display_name": partner_display or name,
            "partner_id": partner_id,
            "web.base.url": base_url,
            "active_ids_limit": 20000,
            "profile_session": None,
            "profile_collectors": None,
            "profile_params": None,
            "max_file_upload_size": DEFAULT_MAX_CONTENT_LENGTH,
            "home_action_id": False,
            "cache_hashes": {"translations": hashlib.sha1(db.encode()).hexdigest()},  # noqa: S324
            "currencies": currencies,
            "bundle_params": {"lang": context["lang"]},
            "user_companies": {
                "current_company": company_id,
                "allowed_companies": allowed,
                "disallowed_ancestor_companies": {},
            },
            "show_effect": True,
            "display_switch_company_menu": multi_company,
            **extra,
        }

    return await emulator.run_as(db, uid, build)


# ir.http.get_view_info (18.0's session info carries it).
VIEW_INFO = {
    "list": {"display_name": "List", "icon": "oi oi-view-list", "multi_record": True},
    "form": {"display_name": "Form", "icon": "fa fa-address-card", "multi_record": False},
    "graph": {"display_name": "Graph", "icon": "fa fa-area-chart", "multi_record": True},
    "pivot": {"display_name": "Pivot", "icon": "oi oi-view-pivot", "multi_record": True},
    "calendar": {"display_name": "Calendar", "icon": "fa fa-calendar", "multi_record": True},
    "kanban": {"display_name": "Kanban", "icon": "oi oi-view-kanban", "multi_record": True},
    "search": {"display_name": "Search", "icon": "oi oi-search", "multi_record": True},
}


async def _users_settings_id(env: Env, uid: int) -> int:
    """``res.users.settings._find_or_create_for_user``: created at a user's first session."""
    cur = await env.conn.execute(
        "INSERT INTO res_users_settings (user_id, create_uid, create_date, write_uid, write_date)"
        " VALUES (%s, %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')"
        " ON CONFLICT (user_id) DO NOTHING RETURNING id",
        (uid, uid, uid),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await env.conn.execute("SELECT id FROM res_users_settings WHERE user_id = %s", (uid,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


class BaseRoutes:
    """What every group of route handlers of one emulator shares."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @property
    def version(self) -> Any:
        return self.emulator.version

    def with_session(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A plain HTTP route whose session is saved and cookie set afterwards (Odoo saves the
        session of every route but the ``save_session=False`` ones)."""

        async def route(request: Request) -> Response:
            web = WebRequest(self.emulator, request)
            request.state.web = web
            response = await handler(request)
            if response.status_code >= 500:
                return response  # an error page: Odoo saves nothing
            return web.finish(response)

        return route

    def page_request(self, request: Request) -> WebRequest:
        web = getattr(request.state, "web", None)
        return web if isinstance(web, WebRequest) else WebRequest(self.emulator, request)
