"""``OdooDriver`` over Odoo's own protocol, with SQL for what RPC cannot do.

Stopping one database on a shared server needs the host's PostgreSQL (protocol §11.2):
``ALLOW_CONNECTIONS false`` plus terminating its sessions refuses every call on it while
the other databases keep working. A closed database is missing from ``db.list``, so it is
reopened before it is dropped or dumped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from saas_server.core.db import with_database
from saas_server.core.errors import Conflict
from saas_server.odoo import direct_dump
from saas_server.odoo.client import DATABASE_TIMEOUT, OdooClient, ServerVersion
from saas_server.odoo.driver import (
    DATABASE_STAT_COLUMNS,
    Credentials,
    DatabaseSetup,
    HostHealth,
    LoginRecord,
    OdooLogin,
    OdooUser,
    UserActivity,
)
from saas_server.odoo.errors import OdooError, OdooFault

# How Odoo writes a datetime over RPC (UTC, no zone).
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


class RpcDriver:
    def __init__(
        self,
        url: str,
        master_password: str,
        *,
        postgres_url: str | None = None,
        filestore_root: Path | None = None,
        client: OdooClient | None = None,
    ) -> None:
        self.client = client or OdooClient(url)
        self.master_password = master_password
        self.postgres_url = postgres_url
        # Where the host keeps its filestores, when this process can read them (the
        # built-in emulator): backups are then assembled here (odoo/direct_dump.py).
        self.filestore_root = filestore_root

    @property
    def can_stop(self) -> bool:
        return bool(self.postgres_url)

    def database_url(self, name: str) -> str | None:
        return with_database(self.postgres_url, name) if self.postgres_url else None

    async def close(self) -> None:
        await self.client.close()

    # -- host -------------------------------------------------------------------------------

    async def health(self) -> HostHealth:
        """Liveness and version without spending a master-password check (~0.35 s each)."""
        started = time.perf_counter()
        try:
            if not await self.client.health():
                return HostHealth(False, None, None, "GET /web/health failed")
            version = await self.client.version()
        except OdooError as exc:
            return HostHealth(False, None, None, exc.message)
        return HostHealth(True, (time.perf_counter() - started) * 1000, version)

    async def server_version(self) -> ServerVersion:
        return await self.client.version()

    async def list_databases(self) -> list[str]:
        return await self.client.list_databases()

    # -- databases --------------------------------------------------------------------------

    async def database_exists(self, name: str) -> bool:
        if self.postgres_url:
            # db_exist answers "can I connect", which is false for a stopped database.
            async with await self._sql() as conn:
                row = await (
                    await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                ).fetchone()
                return row is not None
        return await self.client.database_exists(name)

    async def create(self, name: str, *, admin: Credentials, lang: str) -> None:
        await self.client.create_database(
            self.master_password,
            name,
            admin_login=admin.login,
            admin_password=admin.password,
            lang=lang,
        )

    async def clone(self, template: str, name: str) -> None:
        # duplicate_database closes the template's sessions first and regenerates the
        # clone's uuid and secret; a raw CREATE DATABASE ... TEMPLATE would do neither.
        await self.client.duplicate_database(self.master_password, template, name)

    async def authenticate(self, name: str, credentials: Credentials) -> int | None:
        return await self.client.authenticate(name, credentials.login, credentials.password)

    async def set_config_parameters(
        self, name: str, uid: int, password: str, values: Mapping[str, str]
    ) -> None:
        """One ``execute_kw`` per key: no web session, whose login would overwrite
        ``web.base.url`` while it is not frozen yet (protocol §11.2)."""
        for key, value in values.items():
            await self.client.execute_kw(
                name, uid, password, "ir.config_parameter", "set_param", [key, value]
            )

    async def set_password(
        self,
        name: str,
        current: Credentials,
        password: str,
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        """In one web session: one password check, where ``execute_kw`` calls would pay
        one after each write (every write clears Odoo's credential cache)."""
        session = await self.client.web_session(name, current.login, current.password)
        for key, value in (parameters or {}).items():
            await session.call_kw("ir.config_parameter", "set_param", [key, value])
        await session.call_kw("res.users", "write", [[session.uid], {"password": password}])

    async def rename(self, name: str, new_name: str) -> None:
        """Odoo's ``db.rename``: it closes its connections to ``name``, runs ``ALTER
        DATABASE ... RENAME`` and moves the filestore folder along (protocol §5)."""
        await self.client.call(
            "db", "rename", self.master_password, name, new_name, timeout=DATABASE_TIMEOUT
        )

    async def configure(
        self,
        name: str,
        *,
        current: Credentials,
        setup: DatabaseSetup,
        renew_identity: bool = True,
    ) -> None:
        """Write the setup; safe to repeat (a rerun may find the admin already changed).

        All of it in one web session: one password check, where ``execute_kw`` calls
        would pay one after each write (every ``set_param`` and user write clears Odoo's
        credential cache; ~0.5 s each on a real server). With ``renew_identity`` the
        database gets a new ``database.uuid`` and ``database.secret``; the secret ends the
        session, so the admin's login and password are then written by one RPC call."""
        credentials = current
        try:
            session = await self.client.web_session(name, current.login, current.password)
        except OdooFault as exc:
            if not exc.is_access_denied or current == setup.admin:
                raise
            # A run killed after the last write: the admin is the new one already.
            credentials = setup.admin
            session = await self.client.web_session(name, setup.admin.login, setup.admin.password)

        async def call(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
            return await session.call_kw(model, method, list(args), kwargs)

        params = {
            "web.base.url": setup.base_url,
            # Without the freeze, the first admin login through the web overwrites the URL.
            "web.base.url.freeze": "True",
            **setup.extra_params,
        }
        if setup.expires_at is not None:
            params["database.expiration_date"] = setup.expires_at.strftime("%Y-%m-%d %H:%M:%S")
            params["database.expiration_reason"] = setup.expiration_reason or "trial"
        for key, value in params.items():
            await call("ir.config_parameter", "set_param", key, value)

        companies = await call("res.company", "search", [], limit=1, order="id")
        if companies:
            await call("res.company", "write", companies, {"name": setup.company_name})

        user_values: dict[str, Any] = {"tz": setup.timezone, "login": setup.admin.login}
        if await self._activate_language(call, setup.lang):
            user_values["lang"] = setup.lang
        if setup.admin.password != credentials.password:
            user_values["password"] = setup.admin.password  # Odoo hashes it
        if not renew_identity:
            # Last: the new login ends the session.
            await call("res.users", "write", [session.uid], user_values)
            return
        await call("ir.config_parameter", "set_param", "database.uuid", str(uuid.uuid1()))
        # Ends the session (the session token is keyed by the secret).
        await call("ir.config_parameter", "set_param", "database.secret", str(uuid.uuid4()))
        await self.client.execute_kw(
            name,
            session.uid,
            credentials.password,
            "res.users",
            "write",
            [[session.uid], user_values],
        )

    @staticmethod
    async def _activate_language(call: Any, lang: str) -> bool:
        found = await call(
            "res.lang",
            "search_read",
            [["code", "=", lang]],
            fields=["active"],
            context={"active_test": False},
        )
        if not found:
            return False
        if not found[0].get("active"):
            await call("res.lang", "write", [found[0]["id"]], {"active": True})
        return True

    async def stop(self, name: str) -> None:
        async with await self._sql(required_for="stop a database") as conn:
            await conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
            )
            await self._terminate(conn, name)

    async def start(self, name: str) -> None:
        if not self.postgres_url:
            return  # without SQL access a database is never closed
        async with await self._sql() as conn:
            exists = await (
                await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            ).fetchone()
            if exists:
                await conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
                )

    async def restart(self, name: str) -> None:
        """End the database's sessions so Odoo reconnects afresh."""
        async with await self._sql(required_for="restart a database") as conn:
            await self._terminate(conn, name)

    async def drop(self, name: str) -> bool:
        await self.start(name)
        return await self.client.drop_database(self.master_password, name)

    async def drop_and_confirm(self, name: str) -> bool:
        """``db.drop`` answers false, not an error, for a database it does not see (one
        of another PostgreSQL role, protocol §11.1), and its true is only Odoo's word:
        gone is what ``database_exists`` says afterwards."""
        if not await self.database_exists(name):
            return True
        await self.drop(name)
        return not await self.database_exists(name)

    async def dump(self, name: str) -> AsyncIterator[bytes]:
        """Odoo's zip archive of ``name``: assembled here when the database and its
        filestore are within reach, else from Odoo's own backup route."""
        await self.start(name)
        if self.postgres_url and self.filestore_root is not None:
            version = await self.client.version()
            stream = direct_dump.stream_archive(
                self.postgres_url, name, self.filestore_root / name, version
            )
        else:
            stream = self.client.backup(self.master_password, name)
        async for chunk in stream:
            yield chunk

    async def restore(self, name: str, archive: IO[bytes], *, copy: bool) -> None:
        await self.client.restore(self.master_password, name, archive, copy=copy)

    async def size(self, name: str) -> int | None:
        if not self.postgres_url:
            return None
        async with await self._sql() as conn:
            row = await (await conn.execute("SELECT pg_database_size(%s)", (name,))).fetchone()
            return int(row[0]) if row else None

    async def filestore_size(self, name: str) -> int | None:
        """The bytes of the database's filestore (an archive holds them besides the dump):
        summed on disk when the host's filestores are within reach, else as the attachments
        record them (SQL on the database, which must be open). None when unknown."""
        if self.filestore_root is not None:
            return await asyncio.to_thread(_tree_size, self.filestore_root / name)
        if not self.postgres_url:
            return None
        async with await psycopg.AsyncConnection.connect(
            with_database(self.postgres_url, name), autocommit=True
        ) as conn:
            row = await (
                await conn.execute(
                    "SELECT coalesce(sum(file_size), 0) FROM ir_attachment "
                    "WHERE store_fname IS NOT NULL"
                )
            ).fetchone()
            return int(row[0]) if row else None

    async def database_stats(self, name: str) -> dict[str, int] | None:
        if not self.postgres_url:
            return None
        columns = ", ".join(DATABASE_STAT_COLUMNS)
        async with await self._sql() as conn:
            cursor = await conn.execute(
                f"SELECT {columns} FROM pg_stat_database WHERE datname = %s",  # noqa: S608
                (name,),
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        pairs = zip(DATABASE_STAT_COLUMNS, row, strict=True)
        return {column: int(value or 0) for column, value in pairs}

    async def user_activity(
        self, name: str, credentials: Credentials, since: datetime
    ) -> UserActivity:
        # Through SQL when the host allows it: an RPC read logs in, and that login would
        # itself count the administrator as active on every sample.
        if self.postgres_url:
            async with await self._database_sql(name) as conn:
                row = await (
                    await conn.execute(
                        "SELECT count(*), count(*) FILTER (WHERE EXISTS ("
                        " SELECT 1 FROM res_users_log l"
                        " WHERE l.create_uid = u.id AND l.create_date >= %s))"
                        " FROM res_users u WHERE u.active AND NOT coalesce(u.share, false)",
                        (since.astimezone(UTC).replace(tzinfo=None),),
                    )
                ).fetchone()
            assert row is not None
            return UserActivity(internal_users=int(row[0]), active_users=int(row[1]))
        uid = await self.client.authenticate(name, credentials.login, credentials.password)
        if not uid:
            raise OdooFault("odoo.exceptions.AccessDenied", "Access Denied")
        users = await self.client.execute_kw(
            name,
            uid,
            credentials.password,
            "res.users",
            "search_read",
            [[["share", "=", False]]],
            {"fields": ["login_date"]},
        )
        cutoff = since.astimezone(UTC).replace(tzinfo=None)
        active = sum(
            1
            for user in users
            if user.get("login_date")
            and datetime.strptime(str(user["login_date"])[:19], ODOO_DATETIME) >= cutoff
        )
        return UserActivity(internal_users=len(users), active_users=active)

    async def login_records(
        self,
        name: str,
        credentials: Credentials,
        *,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> list[LoginRecord]:
        if self.postgres_url:  # without logging in (which would add a record of its own)
            return await self._login_records_sql(name, since, until, limit)
        uid = await self.client.authenticate(name, credentials.login, credentials.password)
        if not uid:
            raise OdooFault("odoo.exceptions.AccessDenied", "Access Denied")
        domain: list[Any] = []
        if since is not None:
            domain.append(["create_date", ">=", _odoo_datetime(since)])
        if until is not None:
            domain.append(["create_date", "<=", _odoo_datetime(until)])
        rows = await self.client.execute_kw(
            name,
            uid,
            credentials.password,
            "res.users.log",
            "search_read",
            [domain],
            {"fields": ["create_uid", "create_date"], "order": "id desc", "limit": limit},
        )
        # ``create_uid`` reads as [id, display name]; the record names the login, as the
        # SQL path does.
        user_ids = sorted({int(row["create_uid"][0]) for row in rows if row.get("create_uid")})
        logins: dict[int, str] = {}
        if user_ids:
            users = await self.client.execute_kw(
                name,
                uid,
                credentials.password,
                "res.users",
                "read",
                [user_ids, ["login"]],
                {"context": {"active_test": False}},
            )
            logins = {int(user["id"]): str(user["login"]) for user in users}
        records = []
        for row in rows:
            who = int((row.get("create_uid") or [0])[0])
            stamp = datetime.strptime(str(row["create_date"])[:19], ODOO_DATETIME)
            records.append(
                LoginRecord(at=stamp.replace(tzinfo=UTC), user_id=who, user=logins.get(who, ""))
            )
        return records

    async def _login_records_sql(
        self, name: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[LoginRecord]:
        def naive(moment: datetime | None) -> datetime | None:
            return moment.astimezone(UTC).replace(tzinfo=None) if moment else None

        async with await self._database_sql(name) as conn:
            rows = await (
                await conn.execute(
                    "SELECT l.create_date, l.create_uid, coalesce(u.login, '')"
                    " FROM res_users_log l LEFT JOIN res_users u ON u.id = l.create_uid"
                    " WHERE (%(since)s::timestamp IS NULL OR l.create_date >= %(since)s)"
                    " AND (%(until)s::timestamp IS NULL OR l.create_date <= %(until)s)"
                    " ORDER BY l.id DESC LIMIT %(limit)s",
                    {"since": naive(since), "until": naive(until), "limit": limit},
                )
            ).fetchall()
        return [
            LoginRecord(at=stamp.replace(tzinfo=UTC), user_id=int(uid or 0), user=str(login))
            for stamp, uid, login in rows
        ]

    async def _database_sql(self, name: str) -> psycopg.AsyncConnection[Any]:
        assert self.postgres_url is not None
        return await psycopg.AsyncConnection.connect(
            with_database(self.postgres_url, name), autocommit=True
        )

    # -- internals --------------------------------------------------------------------------

    # -- internal users (billing's seats): one web session each, one password check --

    async def ensure_internal_user(
        self, name: str, admin: Credentials, user: OdooUser, password: str
    ) -> bool:
        session = await self.client.web_session(name, admin.login, admin.password)
        found = await session.call_kw(
            "res.users",
            "search",
            [[["login", "=", user.login]]],
            {"context": {"active_test": False}, "limit": 1},
        )
        if found:
            await session.call_kw("res.users", "write", [found, {"active": True}])
            return False
        # Odoo's default groups make the new user internal (share = False).
        await session.call_kw(
            "res.users",
            "create",
            [{"name": user.name, "login": user.login, "email": user.email, "password": password}],
        )
        return True

    async def deactivate_user(self, name: str, admin: Credentials, login: str) -> bool:
        session = await self.client.web_session(name, admin.login, admin.password)
        found = await session.call_kw(
            "res.users", "search", [[["login", "=", login], ["active", "=", True]]], {"limit": 1}
        )
        if not found:
            return False
        await session.call_kw("res.users", "write", [found, {"active": False}])
        return True

    async def active_internal_logins(self, name: str, admin: Credentials) -> list[str]:
        session = await self.client.web_session(name, admin.login, admin.password)
        rows = await session.call_kw(
            "res.users",
            "search_read",
            [[["share", "=", False], ["active", "=", True]]],
            {"fields": ["login"], "order": "id"},
        )
        return [row["login"] for row in rows]

    # -- records: the client portal's reads and writes, as the tenant's administrator --

    async def _execute(
        self,
        name: str,
        admin: Credentials,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """One ``execute_kw`` as ``admin``: Odoo caches a checked password per registry, so
        repeated reads cost no password hash (a web session would cost one per login)."""
        uid = await self.client.authenticate(name, admin.login, admin.password)
        if not uid:
            raise OdooFault("odoo.exceptions.AccessDenied", "Access Denied")
        return await self.client.execute_kw(
            name, uid, admin.password, model, method, args, kwargs or {}
        )

    async def install_modules(self, name: str, admin: Credentials, modules: list[str]) -> list[str]:
        found = await self._execute(
            name,
            admin,
            "ir.module.module",
            "search_read",
            [[["name", "in", list(modules)]]],
            {"fields": ["name", "state"]},
        )
        missing = set(modules) - {row["name"] for row in found}
        if missing:
            raise OdooFault(
                "odoo.exceptions.UserError",
                f"The server has no module named {', '.join(sorted(missing))}",
            )
        pending = [row for row in found if row["state"] != "installed"]
        if pending:
            uid = await self.client.authenticate(name, admin.login, admin.password)
            if not uid:
                raise OdooFault("odoo.exceptions.AccessDenied", "Access Denied")
            # Installing rebuilds the registry inside the request: minutes on a real server
            # (project + account + website_blog: ~4 min on 2 loaded cores).
            await self.client.call(
                "object",
                "execute_kw",
                name,
                uid,
                admin.password,
                "ir.module.module",
                "button_immediate_install",
                [[row["id"] for row in pending]],
                {},
                timeout=DATABASE_TIMEOUT,
            )
        return [row["name"] for row in pending]

    async def search_read(
        self,
        name: str,
        admin: Credentials,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        order: str | None = None,
        limit: int | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": fields}
        if order:
            kwargs["order"] = order
        if limit:
            kwargs["limit"] = limit
        if context:
            kwargs["context"] = context
        rows = await self._execute(name, admin, model, "search_read", [domain], kwargs)
        return list(rows)

    async def readable_fields(
        self, name: str, admin: Credentials, model: str, fields: list[str]
    ) -> list[str]:
        described = await self._execute(
            name, admin, model, "fields_get", [fields], {"attributes": ["type"]}
        )
        return [f for f in fields if f in described]

    async def create_record(
        self, name: str, admin: Credentials, model: str, values: dict[str, Any]
    ) -> int:
        created = await self._execute(name, admin, model, "create", [values])
        # 17.0+ answers a list for a list of values, an id for one dict.
        return int(created[0] if isinstance(created, list) else created)

    async def unlink_records(
        self, name: str, admin: Credentials, model: str, ids: list[int]
    ) -> bool:
        return bool(await self._execute(name, admin, model, "unlink", [ids]))

    async def web_login(self, name: str, login: str, password: str) -> OdooLogin | None:
        answer = await self.client.authenticate_session(name, login, password)
        if answer is None:
            return None
        info, session_id = answer
        context = info.get("user_context") or {}
        companies = info.get("user_companies") or {}
        is_internal = bool(info.get("is_internal_user"))
        return OdooLogin(
            uid=int(info["uid"]),
            partner_id=int(info.get("partner_id") or 0),
            db=str(info.get("db") or name),
            login=str(info.get("username") or login),
            name=str(info.get("name") or ""),
            is_internal=is_internal,
            # Neither internal nor the public user: a portal user (share, group_portal).
            is_portal=not is_internal and not info.get("is_public", False),
            company_id=companies.get("current_company") if isinstance(companies, dict) else None,
            lang=context.get("lang") or None,
            tz=context.get("tz") or None,
            session_id=session_id,
        )

    async def web_logout(self, session_id: str) -> None:
        await self.client.destroy_session(session_id)

    async def _sql(self, required_for: str | None = None) -> psycopg.AsyncConnection[Any]:
        if not self.postgres_url:
            raise Conflict(
                f"This host has no PostgreSQL URL, which is needed to {required_for}",
                details={"reason": "host_without_postgres_url"},
            )
        return await psycopg.AsyncConnection.connect(self.postgres_url, autocommit=True)

    @staticmethod
    async def _terminate(conn: psycopg.AsyncConnection[Any], name: str) -> None:
        """End the database's client sessions that the host's role may end. Odoo's role is
        no superuser: autovacuum workers (busy on a database just restored) and other roles'
        sessions are not its to signal, and asking fails the whole statement ("permission
        denied to terminate process"); closed to new connections first, they end on their own."""
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND pg_has_role(usesysid, 'MEMBER')",
            (name,),
        )


def _tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _odoo_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ODOO_DATETIME)
