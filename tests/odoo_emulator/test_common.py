"""The ``common`` service (odoo-protocol.md sections 2, 3 and 11.1)."""

from __future__ import annotations

import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, RpcError, unique_db_name


def test_version_reports_serie_and_version_info(odoo: OdooServer) -> None:
    version = odoo.common("version")
    assert set(version) == {
        "server_version",
        "server_version_info",
        "server_serie",
        "protocol_version",
    }
    assert version["protocol_version"] == 1
    assert version["server_serie"] in ("17.0", "18.0", "19.0")
    # Packaged builds append a date or edition: compare by serie, never by server_version.
    assert version["server_version"].startswith(version["server_serie"])
    info = version["server_version_info"]
    assert info[:2] == [int(p) for p in version["server_serie"].split(".")]
    assert len(info) == 6


def test_about_answers_a_string_or_string_and_version(odoo: OdooServer) -> None:
    assert isinstance(odoo.common("about"), str)
    info, version = odoo.common("about", True)
    assert isinstance(info, str)
    assert version.startswith(odoo.serie)


def test_authenticate_answers_the_admin_uid(odoo: OdooServer, database: str) -> None:
    assert odoo.common("authenticate", database, "admin", ADMIN_PASSWORD, {}) == 2
    assert odoo.common("authenticate", database, "admin", ADMIN_PASSWORD, None) == 2


def test_login_answers_the_uid_or_false(odoo: OdooServer, database: str) -> None:
    assert odoo.common("login", database, "admin", ADMIN_PASSWORD) == 2
    assert odoo.common("login", database, "admin", "not-the-password") is False
    assert odoo.common("login", database, "nobody", ADMIN_PASSWORD) is False


def test_login_with_an_empty_password(odoo: OdooServer, database: str) -> None:
    if odoo.major >= 18:
        # 18.0 tries the empty password as an API key, whose assertion fails.
        with pytest.raises(RpcError) as caught:
            odoo.common("login", database, "admin", "")
        assert caught.value.name == "builtins.AssertionError"
    else:
        assert odoo.common("login", database, "admin", "") is False


def test_authenticate_on_an_unknown_database_is_an_operational_error(odoo: OdooServer) -> None:
    name = unique_db_name()
    with pytest.raises(RpcError) as caught:
        odoo.common("authenticate", name, "admin", "x", {})
    assert caught.value.name == "psycopg2.OperationalError"
    assert f'database "{name}" does not exist' in caught.value.message


def test_login_with_missing_arguments_is_a_type_error(odoo: OdooServer) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.common("login", "x")
    assert caught.value.name == "builtins.TypeError"


def test_set_loglevel_is_a_no_op(odoo: OdooServer) -> None:
    assert odoo.common("set_loglevel", "info") is True
