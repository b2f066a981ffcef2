"""Credentials: hashing, caching, deactivation, cooldown (odoo-protocol.md sections 6, 11.2).

Tests that change users with SQL need the server's PostgreSQL (``SAAS_TEST_ODOO_POSTGRES_URL``
for a real server); they are skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, RpcError, unique_db_name


@pytest.fixture(scope="module")
def sql(odoo: OdooServer, database: str) -> Iterator[psycopg.Connection[Any]]:
    if not odoo.postgres_url:
        pytest.skip("needs SQL access to the server's PostgreSQL (SAAS_TEST_ODOO_POSTGRES_URL)")
    with psycopg.connect(
        make_conninfo(odoo.postgres_url, dbname=database), autocommit=True
    ) as conn:
        yield conn


@pytest.fixture
def user(odoo: OdooServer, database: str) -> tuple[int, str, str]:
    """A fresh internal user: (uid, login, password)."""
    login = f"user-{unique_db_name()[-8:]}"
    password = "pw-" + login
    uid = odoo.execute_kw(
        database,
        2,
        ADMIN_PASSWORD,
        "res.users",
        "create",
        [{"name": f"User {login}", "login": login, "password": password}],
    )
    return int(uid), login, password


def _search(odoo: OdooServer, database: str, uid: int, password: str) -> Any:
    return odoo.execute_kw(database, uid, password, "res.partner", "search", [[("id", "=", 1)]])


def test_passwords_are_stored_as_pbkdf2_sha512_with_600000_rounds(
    sql: psycopg.Connection[Any], user: tuple[int, str, str]
) -> None:
    uid, _login, _password = user
    row = sql.execute("SELECT password FROM res_users WHERE id = %s", (uid,)).fetchone()
    assert row is not None
    scheme, rounds, salt, checksum = row[0].split("$")[1:]
    assert scheme == "pbkdf2-sha512"
    assert int(rounds) >= 600_000
    assert salt and checksum


def test_plaintext_password_written_by_sql_logs_in_and_is_hashed(
    odoo: OdooServer, database: str, sql: psycopg.Connection[Any], user: tuple[int, str, str]
) -> None:
    uid, login, _password = user
    sql.execute("UPDATE res_users SET password = 'plain-secret' WHERE id = %s", (uid,))
    assert odoo.common("authenticate", database, login, "plain-secret", {}) == uid
    row = sql.execute("SELECT password FROM res_users WHERE id = %s", (uid,)).fetchone()
    assert row is not None and row[0].startswith("$pbkdf2-sha512$")


def test_sql_deactivation_stops_logins_but_not_cached_rpc_credentials(
    odoo: OdooServer, database: str, sql: psycopg.Connection[Any], user: tuple[int, str, str]
) -> None:
    uid, login, password = user
    assert _search(odoo, database, uid, password) == [1]  # now cached by the server
    sql.execute("UPDATE res_users SET active = false WHERE id = %s", (uid,))
    try:
        assert odoo.common("authenticate", database, login, password, {}) is False
        assert _search(odoo, database, uid, password) == [1]
    finally:
        sql.execute("UPDATE res_users SET active = true WHERE id = %s", (uid,))


def test_orm_deactivation_takes_effect_at_once(
    odoo: OdooServer, database: str, user: tuple[int, str, str]
) -> None:
    uid, login, password = user
    assert _search(odoo, database, uid, password) == [1]
    odoo.execute_kw(database, 2, ADMIN_PASSWORD, "res.users", "write", [[uid], {"active": False}])
    with pytest.raises(RpcError) as caught:
        _search(odoo, database, uid, password)
    assert caught.value.name == "odoo.exceptions.AccessDenied"
    assert odoo.common("authenticate", database, login, password, {}) is False


def test_orm_password_change_takes_effect_at_once(
    odoo: OdooServer, database: str, user: tuple[int, str, str]
) -> None:
    uid, login, password = user
    assert _search(odoo, database, uid, password) == [1]
    odoo.execute_kw(
        database, 2, ADMIN_PASSWORD, "res.users", "write", [[uid], {"password": "brand-new-pw"}]
    )
    with pytest.raises(RpcError):
        _search(odoo, database, uid, password)
    assert _search(odoo, database, uid, "brand-new-pw") == [1]
    assert odoo.common("login", database, login, "brand-new-pw") == uid


def test_admin_cannot_deactivate_itself(odoo: OdooServer, database: str) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.execute_kw(database, 2, ADMIN_PASSWORD, "res.users", "write", [[2], {"active": False}])
    assert caught.value.name == "odoo.exceptions.UserError"
    assert caught.value.message == "You cannot deactivate the user you're currently logged in as."


def test_ten_failed_web_logins_start_a_cooldown_that_rpc_ignores(
    odoo: OdooServer, template_db: str
) -> None:
    """The cooldown is keyed by the client address of a web request; RPC runs without a
    request, so RPC logins neither count nor are refused."""
    name = unique_db_name()
    odoo.db("duplicate_database", odoo.master_password, template_db, name)
    try:
        for _ in range(10):
            assert odoo.common("login", name, "admin", "wrong-password") is False
        assert odoo.common("login", name, "admin", ADMIN_PASSWORD) == 2

        def web_login(password: str) -> dict[str, Any]:
            params = {"db": name, "login": "admin", "password": password}
            return dict(odoo.post_json("/web/session/authenticate", params).json())

        for _ in range(10):
            failed = web_login("wrong-password")
            assert failed["error"]["data"]["message"] == "Access Denied"
        refused = web_login(ADMIN_PASSWORD)["error"]["data"]
        if odoo.major == 18:
            # 18.0 fails to translate its refusal and answers this ValueError instead.
            assert refused["name"] == "builtins.ValueError"
            assert refused["message"] == "invalid literal for int() with base 10: 'admin'"
        else:
            assert refused["name"] == "odoo.exceptions.AccessDenied"
            assert "Too many login failures" in refused["message"]
        # RPC is not affected.
        assert odoo.common("login", name, "admin", ADMIN_PASSWORD) == 2
        assert odoo.execute_kw(
            name, 2, ADMIN_PASSWORD, "res.partner", "search", [[("id", "=", 1)]]
        ) == [1]
    finally:
        odoo.drop_quietly(name)


def test_a_closed_database_is_refused_and_hidden_until_reopened(
    odoo: OdooServer, template_db: str
) -> None:
    """``ALLOW_CONNECTIONS false`` plus terminating its sessions closes one database: calls
    fail with psycopg2's OperationalError, db.list leaves it out and db.drop answers False
    (sections 11.1, 11.2)."""
    if not odoo.postgres_url:
        pytest.skip("needs SQL access to the server's PostgreSQL (SAAS_TEST_ODOO_POSTGRES_URL)")
    name = unique_db_name()
    odoo.db("duplicate_database", odoo.master_password, template_db, name)
    assert odoo.common("login", name, "admin", ADMIN_PASSWORD) == 2
    admin_url = make_conninfo(odoo.postgres_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                psycopg.sql.Identifier(name)
            )
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            with pytest.raises(RpcError) as caught:
                odoo.common("authenticate", name, "admin", ADMIN_PASSWORD, {})
            assert caught.value.name == "psycopg2.OperationalError"
            assert "is not currently accepting connections" in caught.value.message
            assert name not in odoo.db("list")
            assert odoo.db("drop", odoo.master_password, name) is False
        finally:
            admin.execute(
                psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                    psycopg.sql.Identifier(name)
                )
            )
    assert odoo.common("login", name, "admin", ADMIN_PASSWORD) == 2
    assert odoo.db("drop", odoo.master_password, name) is True
