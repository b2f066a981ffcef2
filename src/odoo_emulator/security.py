"""User authentication as Odoo's res.users does it (odoo-protocol.md sections 6, 11.2).

- ``authenticate`` (common.login/authenticate, web logins) reads the user row every time: a
  user deactivated or a password changed with SQL is refused at once.
- ``check`` (every ``object`` call) is cached per process and database on (uid, password), as
  Odoo's ormcached ``res.users.check``: after an SQL change the old credentials keep working
  until the registry cache is cleared, which ORM writes on res.users (password, active,
  groups...) and on ir.config_parameter do.
- Failed web logins count per client address; after ``base.login_cooldown_after`` failures
  (10) every web login is refused for ``base.login_cooldown_duration`` seconds (60). RPC
  runs without a request, so neither counts nor is refused.
- A successful web login of a Settings user sets ``web.base.url`` to the request's address
  unless ``web.base.url.freeze`` is set (section 11.2); RPC logins never do.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from hashlib import sha256
from typing import Any

import psycopg

from odoo_emulator import passwords
from odoo_emulator.errors import AccessDenied, MissingError
from odoo_emulator.runtime import Emulator, RequestInfo
from odoo_emulator.storage import LoginFailures, Registry, monotonic

COOLDOWN_MESSAGE = "Too many login failures, please wait a bit before trying again."


async def _cooldown_settings(registry: Registry) -> tuple[int, int]:
    async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[int, int]:
        cur = await conn.execute(
            "SELECT key, value FROM ir_config_parameter WHERE key IN"
            " ('base.login_cooldown_after', 'base.login_cooldown_duration')"
        )
        values = dict(await cur.fetchall())
        try:
            after = int(values.get("base.login_cooldown_after", 5))
            duration = int(values.get("base.login_cooldown_duration", 60))
        except ValueError:
            after, duration = 5, 60
        return after, duration

    return await registry.run(read)


@asynccontextmanager
async def assert_can_auth(
    emulator: Emulator, registry: Registry, source: str | None, user: str | int
) -> AsyncIterator[None]:
    """res.users ``_assert_can_auth``: refuse during a cooldown, count failures. Without a
    request (RPC) there is no client address and no cooldown."""
    if source is None:
        yield
        return
    failures = registry.login_failures.get(source)
    if failures is not None and failures.count:
        after, duration = await _cooldown_settings(registry)
        if after > 0 and duration > 0 and failures.count >= after:
            if monotonic() < failures.last + duration:
                if emulator.version.cooldown_refusal_is_value_error and isinstance(user, str):
                    # 18.0's translation lookup takes the login for a user id (observed).
                    int(user)
                raise AccessDenied(COOLDOWN_MESSAGE)
    try:
        yield
    except AccessDenied:
        entry = registry.login_failures.setdefault(source, LoginFailures())
        entry.count += 1
        entry.last = monotonic()
        raise
    else:
        registry.login_failures.pop(source, None)


async def _verify_user_password(registry: Registry, uid: int, stored: str, password: str) -> bool:
    valid, replacement = await asyncio.to_thread(passwords.verify_and_update, password, stored)
    if valid and replacement is not None:
        # Plaintext or weaker hashes are upgraded at login (passlib deprecated="auto").
        async def store(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(
                "UPDATE res_users SET password = %s WHERE id = %s", (replacement, uid)
            )

        await registry.run(store)
    return valid


# Odoo's res.users logs each login attempt on the server log, with the database's name.
_users_log = logging.getLogger("odoo.addons.base.models.res_users")


async def authenticate(
    emulator: Emulator,
    db_name: str,
    login: str,
    password: str,
    request: RequestInfo,
) -> int:
    """The uid of (login, password) on ``db_name``; AccessDenied otherwise."""
    if not password:
        if emulator.version.empty_password_login_fails_in_apikeys:
            # 18.0 tries the empty password as an API key and trips an assertion (observed).
            raise AssertionError("scope and key required")
        raise AccessDenied()
    registry = await emulator.registry(db_name)
    async with assert_can_auth(emulator, registry, request.remote_addr, login):

        async def find(conn: psycopg.AsyncConnection[Any]) -> tuple[int, str] | None:
            # Only active users can log in (the search applies active_test).
            cur = await conn.execute(
                "SELECT u.id, COALESCE(u.password, '') FROM res_users u"
                " JOIN res_partner p ON p.id = u.partner_id"
                " WHERE u.login = %s AND u.active ORDER BY p.name, u.login LIMIT 1",
                (login,),
            )
            row = await cur.fetchone()
            return (int(row[0]), row[1]) if row else None

        found = await registry.run(find)
        valid = found is not None and await _verify_user_password(
            registry, found[0], found[1], password
        )
        if not valid or found is None:
            _users_log.info(
                "Login failed for db:%s login:%s from %s",
                db_name,
                login,
                request.remote_addr,
                extra={"dbname": db_name},
            )
            raise AccessDenied()
        uid = found[0]
        _users_log.info(
            "Login successful for db:%s login:%s from %s",
            db_name,
            login,
            request.remote_addr,
            extra={"dbname": db_name},
        )

    async def record_login(conn: psycopg.AsyncConnection[Any]) -> None:
        # res.users._update_last_login: one res.users.log row per login.
        await conn.execute(
            "INSERT INTO res_users_log (create_uid, create_date, write_uid, write_date)"
            " VALUES (%s, now() at time zone 'UTC', %s, now() at time zone 'UTC')",
            (uid, uid),
        )
        if request.base_location:
            await _update_base_url(conn, uid, request.base_location)

    await registry.run(record_login)
    return uid


async def _update_base_url(conn: psycopg.AsyncConnection[Any], uid: int, base: str) -> None:
    """A Settings user logging in through the web moves web.base.url to the address used,
    unless web.base.url.freeze holds any value (res.users.authenticate)."""
    cur = await conn.execute(
        "SELECT 1 FROM res_groups_users_rel r JOIN ir_model_data d"
        " ON d.model = 'res.groups' AND d.res_id = r.gid"
        " WHERE r.uid = %s AND d.module = 'base' AND d.name = 'group_system'",
        (uid,),
    )
    if await cur.fetchone() is None:
        return
    cur = await conn.execute(
        "SELECT value FROM ir_config_parameter WHERE key = 'web.base.url.freeze'"
    )
    frozen = await cur.fetchone()
    if frozen and frozen[0]:
        return
    await conn.execute(
        "INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid,"
        " write_date) VALUES ('web.base.url', %s, %s, now() at time zone 'UTC', %s,"
        " now() at time zone 'UTC') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
        " write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date"
        " WHERE ir_config_parameter.value IS DISTINCT FROM EXCLUDED.value",
        (base, uid, uid),
    )


async def check(
    emulator: Emulator, db_name: str, uid: int, password: str, request: RequestInfo
) -> None:
    """``res.users.check``: AccessDenied unless (uid, password) is valid; cached on success."""
    if not password:
        raise AccessDenied()
    registry = await emulator.registry(db_name)
    if (uid, password) in registry.credential_cache:
        return
    async with assert_can_auth(emulator, registry, request.remote_addr, uid):

        async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[bool, str] | None:
            cur = await conn.execute(
                "SELECT active, COALESCE(password, '') FROM res_users WHERE id = %s", (uid,)
            )
            row = await cur.fetchone()
            return (bool(row[0]), row[1]) if row else None

        found = await registry.run(read)
        if found is None:
            # Reading the missing user's ``active`` flag (observed on 17.0 and 18.0).
            raise MissingError(
                "Record does not exist or has been deleted.\n"
                f"(Record: res.users({uid},), User: {uid})"
            )
        if not found[0]:
            raise AccessDenied()
        if not await _verify_user_password(registry, uid, found[1], password):
            raise AccessDenied()
    registry.credential_cache.add((uid, password))


async def compute_session_token(emulator: Emulator, db_name: str, uid: int, sid: str) -> str | None:
    """``res.users._compute_session_token``: an HMAC of the session id keyed by the user's
    id, login, password, active flag and ``database.secret``, so changing any of them ends
    the user's web sessions (section 6)."""
    registry = await emulator.registry(db_name)

    async def read(conn: psycopg.AsyncConnection[Any]) -> tuple[Any, ...] | None:
        cur = await conn.execute(
            "SELECT active, id, login, password,"
            " (SELECT value FROM ir_config_parameter WHERE key = 'database.secret')"
            " FROM res_users WHERE id = %s",
            (uid,),
        )
        return await cur.fetchone()

    row = await registry.run(read)
    if row is None:
        return None
    key = str(tuple(row)).encode("utf-8")
    return hmac.new(key, sid.encode("utf-8"), sha256).hexdigest()


async def check_session_token(
    emulator: Emulator, db_name: str, uid: int, sid: str, token: str | None
) -> bool:
    expected = await compute_session_token(emulator, db_name, uid, sid)
    return bool(expected and token and hmac.compare_digest(expected, token))
