"""An async client for Odoo's external protocol (shared/odoo-protocol.md).

JSON-RPC at ``/jsonrpc`` for the ``common``, ``db`` and ``object`` services, and the
``/web/database/*`` form routes for streaming backups and restores. Calls that never reached
the server (connection refused, connect timeout) are retried with backoff; anything else
is not, since most ``db`` calls are not idempotent. Odoo faults become ``OdooFault``
(``ODOO_UNAVAILABLE``, 502, with the fault in ``details.odoo_error``).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from typing import IO, Any

import httpx

from saas_server.odoo.errors import OdooConnectionError, OdooError, OdooFault

RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Creating a database installs modules (about 20 s on 18.0); dumps and restores scale with data.
DATABASE_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
_ERROR_IN_PAGE = re.compile(
    r"(Database (?:creation|duplication|backup|restore|deletion) error: [^<]*)|"
    r'<div class="alert alert-danger"[^>]*>\s*([^<]+)',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ServerVersion:
    server_version: str
    server_serie: str
    version_info: list[Any]
    protocol_version: int | None

    @property
    def major(self) -> str:
        """``"17.0"`` for any 17.0 build; compare versions by this, never by server_version."""
        return self.server_serie


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """The client keeps no cookies: Odoo sets ``session_id`` on many routes, and a stray
    one would tie later calls to a database (protocol §7, §10.1). Web sessions carry
    their cookie explicitly (``WebSession``)."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


@dataclass(frozen=True)
class WebSession:
    """A logged-in web session on one database; see ``OdooClient.web_session``."""

    client: OdooClient
    db: str
    uid: int
    session_id: str

    async def call_kw(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None
    ) -> Any:
        """``/web/dataset/call_kw``, as the web client calls the ORM."""
        result, _ = await self.client._json_route(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
            headers={"Cookie": f"session_id={self.session_id}"},
        )
        return result


class OdooClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._ids = itertools.count(1)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> OdooClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- transport ------------------------------------------------------------------------

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in itertools.count():
            try:
                return await self._http.request(method, url, **kwargs)
            except RETRYABLE as exc:
                if attempt >= self.retries:
                    raise OdooConnectionError(
                        details={"odoo_error": {"name": type(exc).__name__, "message": str(exc)}}
                    ) from exc
                await asyncio.sleep(self.backoff * 2**attempt)
            except httpx.HTTPError as exc:
                raise OdooConnectionError(
                    details={"odoo_error": {"name": type(exc).__name__, "message": str(exc)}}
                ) from exc
        raise AssertionError("unreachable")

    async def call(
        self,
        service: str,
        method: str,
        *args: Any,
        timeout: httpx.Timeout | None = None,  # noqa: ASYNC109 (an HTTP timeout, per call)
    ) -> Any:
        """One JSON-RPC call; returns the result (None when Odoo omits it)."""
        params = {"service": service, "method": method, "args": list(args)}
        result, _ = await self._json_route("/jsonrpc", params, timeout=timeout)
        return result

    async def _json_route(
        self,
        path: str,
        params: dict[str, Any],
        *,
        timeout: httpx.Timeout | None = None,  # noqa: ASYNC109 (an HTTP timeout, per call)
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """POST a JSON-RPC envelope to one of Odoo's ``type='json'`` routes (``/jsonrpc``,
        ``/web/session/authenticate``, ``/web/dataset/call_kw``): the result and the answer."""
        payload = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(self._ids)}
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        response = await self._send("POST", path, json=payload, headers=headers, **extra)
        if response.status_code != 200:
            raise OdooError(
                f"Odoo answered HTTP {response.status_code}",
                details={
                    "odoo_error": {
                        "name": f"HTTP {response.status_code}",
                        "message": response.text[:300],
                    }
                },
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise OdooConnectionError("The server did not answer JSON-RPC") from exc
        if not isinstance(body, dict):
            raise OdooConnectionError("The server did not answer JSON-RPC")
        if "error" in body:
            raise OdooFault.from_jsonrpc(body["error"])
        return body.get("result"), response

    # -- common -----------------------------------------------------------------------------

    async def version(self) -> ServerVersion:
        info = await self.call("common", "version")
        return ServerVersion(
            server_version=str(info.get("server_version", "")),
            server_serie=str(info.get("server_serie", "")),
            version_info=list(info.get("server_version_info") or []),
            protocol_version=info.get("protocol_version"),
        )

    async def authenticate(self, db: str, login: str, password: str) -> int | None:
        """The uid, or None for bad credentials (an unknown database is a fault)."""
        uid = await self.call("common", "authenticate", db, login, password, {})
        return int(uid) if uid else None

    async def health(self) -> bool:
        """``GET /web/health``: cheap, spends no password check (protocol §7)."""
        try:
            response = await self._send("GET", "/web/health")
        except OdooConnectionError:
            return False
        return response.status_code == 200

    # -- db -----------------------------------------------------------------------------------

    async def list_databases(self) -> list[str]:
        return list(await self.call("db", "list"))

    async def database_exists(self, name: str) -> bool:
        return bool(await self.call("db", "db_exist", name))

    async def server_version(self) -> str:
        return str(await self.call("db", "server_version"))

    async def create_database(
        self,
        master_password: str,
        name: str,
        *,
        admin_password: str,
        admin_login: str = "admin",
        lang: str = "en_US",
        demo: bool = False,
        country_code: str | None = None,
    ) -> None:
        # Odoo may swallow an initialisation error and still answer true (protocol §3):
        # callers prove the database by authenticating afterwards.
        await self.call(
            "db",
            "create_database",
            master_password,
            name,
            demo,
            lang,
            admin_password,
            admin_login,
            country_code,
            timeout=DATABASE_TIMEOUT,
        )

    async def duplicate_database(self, master_password: str, source: str, target: str) -> None:
        await self.call(
            "db", "duplicate_database", master_password, source, target, timeout=DATABASE_TIMEOUT
        )

    async def drop_database(self, master_password: str, name: str) -> bool:
        """False when Odoo does not list the database (unknown, closed, or another role's)."""
        return bool(await self.call("db", "drop", master_password, name, timeout=DATABASE_TIMEOUT))

    async def change_master_password(self, master_password: str, new_password: str) -> None:
        await self.call("db", "change_admin_password", master_password, new_password)

    # -- object -------------------------------------------------------------------------------

    async def execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        return await self.call(
            "object", "execute_kw", db, uid, password, model, method, args, kwargs or {}
        )

    # -- web session: one password check, then calls checked by the session token ----------

    async def web_session(self, db: str, login: str, password: str) -> WebSession:
        """Log in through ``/web/session/authenticate`` (protocol §1.1, §11.2).

        Every ``object.execute_kw`` call checks the password again whenever Odoo's
        credential cache was cleared, and any ``set_param`` or user write clears it: each
        such check is a pbkdf2 of 600,000 rounds (about 0.5 s on a real server). Calls in a
        web session are checked by an HMAC of the session instead, so a run of writes costs
        one password check. The session ends when the user's login, password or
        ``database.secret`` changes. A wrong password is the AccessDenied fault."""
        result, response = await self._json_route(
            "/web/session/authenticate", {"db": db, "login": login, "password": password}
        )
        session_id = response.cookies.get("session_id")
        uid = result.get("uid") if isinstance(result, dict) else None
        if not uid or not session_id:
            raise OdooError(
                "Odoo did not open a web session",
                details={"odoo_error": {"name": "WebSession", "message": f"uid={uid!r}"}},
            )
        return WebSession(self, db, int(uid), session_id)

    async def authenticate_session(
        self, db: str, login: str, password: str
    ) -> tuple[dict[str, Any], str] | None:
        """``/web/session/authenticate`` as a person logs in: Odoo's session info and the
        ``session_id`` cookie, or None when Odoo refuses the login (AccessDenied)."""
        try:
            result, response = await self._json_route(
                "/web/session/authenticate", {"db": db, "login": login, "password": password}
            )
        except OdooFault as exc:
            if exc.is_access_denied:
                return None
            raise
        session_id = response.cookies.get("session_id")
        if not isinstance(result, dict) or not result.get("uid") or not session_id:
            return None
        return result, session_id

    async def destroy_session(self, session_id: str) -> None:
        """``/web/session/destroy``: the web session ends (its cookie is no longer valid)."""
        await self._json_route(
            "/web/session/destroy", {}, headers={"Cookie": f"session_id={session_id}"}
        )

    # -- web database routes: streaming backup and restore ------------------------------------

    async def backup(self, master_password: str, name: str) -> AsyncIterator[bytes]:
        """Stream Odoo's zip backup (dump.sql, filestore/, manifest.json) chunk by chunk."""
        request = self._http.build_request(
            "POST",
            "/web/database/backup",
            data={"master_pwd": master_password, "name": name, "backup_format": "zip"},
            timeout=DATABASE_TIMEOUT,
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise OdooConnectionError(
                details={"odoo_error": {"name": type(exc).__name__, "message": str(exc)}}
            ) from exc
        try:
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or not content_type.startswith(
                "application/octet-stream"
            ):
                page = (await response.aread()).decode(errors="replace")
                raise _page_error(page, "backup")
            async for chunk in response.aiter_bytes(1024 * 1024):
                yield chunk
        finally:
            await response.aclose()

    async def restore(
        self, master_password: str, name: str, archive: IO[bytes], *, copy: bool = False
    ) -> None:
        """Upload a zip backup into a new database ``name`` (Odoo refuses existing names).

        ``copy=True`` makes Odoo regenerate the database's uuid, secret and base URL."""
        response = await self._send(
            "POST",
            "/web/database/restore",
            # Like Odoo's own form, whose unchecked box sends nothing: the route parses a
            # sent value with str2bool, which refuses "".
            data={
                "master_pwd": master_password,
                "name": name,
                **({"copy": "true"} if copy else {}),
            },
            files={"backup_file": (f"{name}.zip", archive, "application/zip")},
            timeout=DATABASE_TIMEOUT,
        )
        # Success is a redirect to the manager; a failure is an HTML page (protocol §1.3).
        if response.status_code not in (301, 302, 303):
            raise _page_error(response.text, "restore")


def _page_error(page: str, operation: str) -> OdooFault:
    found = _ERROR_IN_PAGE.search(page)
    message = unescape((found.group(1) or found.group(2)).strip()) if found else ""
    return OdooFault(f"web.database.{operation}", message or f"Database {operation} failed")
