"""The web routes other clients use: sessions, login, health, database manager
(odoo-protocol.md sections 1.1, 1.3, 7 and 11.2)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, TIMEOUT, OdooServer, unique_db_name


@pytest.fixture
def browser(odoo: OdooServer) -> Iterator[httpx.Client]:
    """A client with its own cookie jar, not following redirects."""
    with httpx.Client(base_url=odoo.url, timeout=TIMEOUT, follow_redirects=False) as client:
        yield client


def _authenticate(odoo: OdooServer, client: httpx.Client, db: str, password: str) -> dict[str, Any]:
    response = odoo.post_json(
        "/web/session/authenticate", {"db": db, "login": "admin", "password": password}, client
    )
    assert response.status_code == 200
    return dict(response.json())


def _get_param(odoo: OdooServer, db: str, key: str) -> Any:
    return odoo.execute_kw(db, 2, ADMIN_PASSWORD, "ir.config_parameter", "get_param", [key])


def _set_param(odoo: OdooServer, db: str, key: str, value: Any) -> Any:
    return odoo.execute_kw(db, 2, ADMIN_PASSWORD, "ir.config_parameter", "set_param", [key, value])


def test_health_answers_pass_without_a_cookie(odoo: OdooServer) -> None:
    response = odoo.http.get(odoo.url + "/web/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"status": "pass"}
    assert "set-cookie" not in response.headers
    if odoo.major >= 18:
        checked = odoo.http.get(odoo.url + "/web/health", params={"db_server_status": "1"})
        assert checked.status_code == 200
        assert checked.json() == {"status": "pass", "db_server_status": True}


def test_version_info_answers_common_version(odoo: OdooServer, browser: httpx.Client) -> None:
    response = odoo.post_json("/web/webclient/version_info", {}, browser)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["server_serie"] == odoo.serie
    assert result["server_version_info"] == odoo.version_info


def test_web_version_route_exists_from_19(odoo: OdooServer) -> None:
    response = odoo.http.get(odoo.url + "/web/version")
    if odoo.major >= 19:
        assert response.status_code == 200
        assert response.json()["version_info"][:2] == odoo.version_info[:2]
    else:
        assert response.status_code == 404


def test_session_authenticate_sets_a_cookie_and_answers_session_info(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    body = _authenticate(odoo, browser, database, ADMIN_PASSWORD)
    info = body["result"]
    assert info["uid"] == 2
    assert info["db"] == database
    assert info["username"] == "admin"
    assert info["is_admin"] is True and info["is_system"] is True
    assert info["server_version_info"][:2] == odoo.version_info[:2]
    assert info["user_context"]["uid"] == 2
    assert info["partner_id"] == 3
    assert "web.base.url" in info
    assert "session_id" not in info
    assert browser.cookies.get("session_id")


def test_session_authenticate_with_a_wrong_password_is_access_denied(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    body = _authenticate(odoo, browser, database, "not-the-password")
    assert body["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"


def test_call_kw_runs_in_the_session(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    _authenticate(odoo, browser, database, ADMIN_PASSWORD)
    response = odoo.post_json(
        "/web/dataset/call_kw/res.partner/search_read",
        {
            "model": "res.partner",
            "method": "search_read",
            "args": [[("id", "=", 3)]],
            "kwargs": {"fields": ["name"]},
        },
        browser,
    )
    assert response.json()["result"] == [{"id": 3, "name": "Administrator"}]
    response = odoo.post_json(
        "/web/dataset/call_kw",
        {"model": "res.users", "method": "context_get", "args": [], "kwargs": {}},
        browser,
    )
    assert response.json()["result"]["uid"] == 2


def test_call_kw_without_a_session_has_no_database_or_no_user(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    response = odoo.post_json(
        "/web/dataset/call_kw",
        {"model": "res.partner", "method": "search", "args": [[]], "kwargs": {}},
        browser,
    )
    if len(odoo.db("list")) > 1:
        assert response.status_code == 404  # no database selected
    else:
        assert response.json()["error"]["code"] == 100


def test_a_session_whose_database_is_gone_is_served_without_one(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    """http.py: the session's database is taken as is (no listing); when its registry
    cannot be loaded the session forgets it and the request is served without a database:
    call_kw, which needs one, is a 404 (seen on 17.0 and 18.0)."""
    name = unique_db_name()
    odoo.db("duplicate_database", odoo.master_password, database, name)
    try:
        _authenticate(odoo, browser, name, ADMIN_PASSWORD)
        call = {
            "model": "res.users",
            "method": "read",
            "args": [[2]],
            "kwargs": {"fields": ["login"]},
        }
        answer = odoo.post_json("/web/dataset/call_kw/res.users/read", call, browser)
        assert answer.json()["result"] == [{"id": 2, "login": "admin"}]
    finally:
        odoo.db("drop", odoo.master_password, name)
    for _ in range(2):
        answer = odoo.post_json("/web/dataset/call_kw/res.users/read", call, browser)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")


def test_session_destroy_answers_no_result_and_ends_the_session(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    _authenticate(odoo, browser, database, ADMIN_PASSWORD)
    response = odoo.post_json("/web/session/destroy", {}, browser)
    body = response.json()
    assert "result" not in body and "error" not in body
    again = odoo.post_json(
        "/web/dataset/call_kw",
        {"model": "res.partner", "method": "search", "args": [[]], "kwargs": {}},
        browser,
    )
    assert again.status_code == 404 or again.json()["error"]["code"] == 100


def _login_page(browser: httpx.Client, database: str) -> str:
    response = browser.get("/web/login", params={"db": database})
    for _ in range(3):  # ensure_db redirects once to set the session's database
        if response.status_code not in (302, 303):
            break
        response = browser.get(response.headers["location"])
    assert response.status_code == 200
    return response.text


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no csrf_token in the login page"
    return match.group(1)


def test_web_login_form_logs_in_and_redirects(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    page = _login_page(browser, database)
    failed = browser.post(
        "/web/login",
        data={
            "login": "admin",
            "password": "not-the-password",
            "csrf_token": _csrf(page),
            "db": database,
        },
    )
    assert failed.status_code == 200
    assert "Wrong login/password" in failed.text
    response = browser.post(
        "/web/login",
        data={
            "login": "admin",
            "password": ADMIN_PASSWORD,
            "csrf_token": _csrf(failed.text),
            "db": database,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("/odoo" if odoo.major >= 18 else "/web")
    info = odoo.post_json("/web/session/get_session_info", {}, browser).json()["result"]
    assert info["uid"] == 2 and info["db"] == database


def test_web_login_post_without_csrf_token_is_refused(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    _login_page(browser, database)
    response = browser.post(
        "/web/login", data={"login": "admin", "password": ADMIN_PASSWORD, "db": database}
    )
    assert response.status_code == 400


def test_web_base_url_follows_admin_web_logins_unless_frozen(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    _set_param(odoo, database, "web.base.url", "http://before.example.com")
    assert odoo.common("authenticate", database, "admin", ADMIN_PASSWORD, {}) == 2
    assert _get_param(odoo, database, "web.base.url") == "http://before.example.com"

    _authenticate(odoo, browser, database, ADMIN_PASSWORD)
    assert _get_param(odoo, database, "web.base.url") == odoo.url

    _set_param(odoo, database, "web.base.url", "http://frozen.example.com")
    _set_param(odoo, database, "web.base.url.freeze", "True")
    try:
        _authenticate(odoo, browser, database, ADMIN_PASSWORD)
        assert _get_param(odoo, database, "web.base.url") == "http://frozen.example.com"
    finally:
        _set_param(odoo, database, "web.base.url.freeze", False)


def test_database_list_route(odoo: OdooServer, database: str, browser: httpx.Client) -> None:
    response = odoo.post_json("/web/database/list", {}, browser)
    assert database in response.json()["result"]


def test_web_backup_streams_a_zip_and_restore_and_drop_redirect(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    backup = browser.post(
        "/web/database/backup",
        data={"master_pwd": odoo.master_password, "name": database, "backup_format": "zip"},
    )
    assert backup.status_code == 200
    assert backup.headers["content-type"] == "application/octet-stream; charset=binary"
    disposition = backup.headers["content-disposition"]
    stamp = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"
    assert re.match(rf"^attachment; filename\*=UTF-8''{database}_{stamp}\.zip$", disposition)
    with zipfile.ZipFile(io.BytesIO(backup.content)) as archive:
        assert archive.namelist()[0] == "dump.sql"

    restored = unique_db_name()
    try:
        response = browser.post(
            "/web/database/restore",
            data={"master_pwd": odoo.master_password, "name": restored, "copy": "true"},
            files={"backup_file": ("backup.zip", backup.content, "application/zip")},
        )
        assert response.status_code == 303
        assert response.headers["location"].endswith("/web/database/manager")
        assert restored in odoo.db("list")
        assert odoo.common("login", restored, "admin", ADMIN_PASSWORD) == 2

        again = browser.post(
            "/web/database/restore",
            data={"master_pwd": odoo.master_password, "name": restored, "copy": "true"},
            files={"backup_file": ("backup.zip", backup.content, "application/zip")},
        )
        assert again.status_code == 200
        assert "Database restore error: Database already exists" in again.text

        dropped = browser.post(
            "/web/database/drop", data={"master_pwd": odoo.master_password, "name": restored}
        )
        assert dropped.status_code == 303
        assert restored not in odoo.db("list")
    finally:
        odoo.drop_quietly(restored)


def test_web_backup_with_a_wrong_master_password_is_an_error_page(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    response = browser.post(
        "/web/database/backup",
        data={"master_pwd": "wrong-master", "name": database, "backup_format": "zip"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Database backup error: Access Denied" in response.text


def test_web_duplicate_refuses_bad_names(
    odoo: OdooServer, database: str, browser: httpx.Client
) -> None:
    response = browser.post(
        "/web/database/duplicate",
        data={"master_pwd": odoo.master_password, "name": database, "new_name": "bad name!"},
    )
    assert response.status_code == 200
    assert "Database duplication error" in response.text


def test_web_backup_of_an_unknown_database_is_an_error_page(
    odoo: OdooServer, browser: httpx.Client
) -> None:
    name = unique_db_name()
    response = browser.post(
        "/web/database/backup",
        data={"master_pwd": odoo.master_password, "name": name, "backup_format": "zip"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    if odoo.major >= 18:
        # 18.0 checks the name against the listed databases first.
        assert f"Database backup error: Database &#39;{name}&#39; is not known" in response.text
    else:
        assert "Database backup error: " in response.text
        assert f"database &#34;{name}&#34; does not exist" in response.text


def test_without_dev_mode_no_werkzeug_debugger_answers(
    odoo: OdooServer, browser: httpx.Client
) -> None:
    # Odoo started without --dev=werkzeug: the query is Odoo's, not a debugger's (the
    # security scan's debug_mode check relies on this; tests/security/test_scans.py runs
    # the emulator with --dev werkzeug).
    answer = browser.get(
        "/web/login", params={"__debugger__": "yes", "cmd": "resource", "f": "debugger.js"}
    )
    assert "javascript" not in answer.headers.get("content-type", "")


def test_dev_werkzeug_answers_the_debuggers_resources(pg_server: str, tmp_path: Any) -> None:
    from odoo_emulator.config import EmulatorConfig
    from odoo_emulator.server import BackgroundServer
    from odoo_emulator.versions import get_version
    from tests.fixtures.smtp import free_port

    config = EmulatorConfig(
        data_dir=tmp_path,
        version=get_version("18.0"),
        port=free_port(),
        postgres_url=pg_server,
        master_password="master-dev",
        dev_mode=("reload", "werkzeug"),
    )
    background = BackgroundServer(config)
    url = background.start()
    try:
        with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            query = {"__debugger__": "yes", "cmd": "resource"}
            script = client.get("/anything", params={**query, "f": "debugger.js"})
            assert script.status_code == 200
            assert "javascript" in script.headers["content-type"]
            assert client.get("/web/login", params={**query, "f": "nope.js"}).status_code == 404
            # Without cmd=resource the request is Odoo's.
            assert client.get("/web/health").status_code == 200
    finally:
        background.stop()
