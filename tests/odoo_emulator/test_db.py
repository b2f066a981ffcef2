"""The ``db`` service: management with the master password, dumps and restores
(odoo-protocol.md sections 2, 3, 4, 5 and 11)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator

import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, RpcError, unique_db_name

CONTENT = b"emulator attachment " + unique_db_name().encode()
CHECKSUM = hashlib.sha1(CONTENT).hexdigest()


@pytest.fixture(scope="module")
def attachment_id(odoo: OdooServer, database: str) -> int:
    """An attachment in the module's database, so its filestore holds a known file."""
    return int(
        odoo.execute_kw(
            database,
            2,
            ADMIN_PASSWORD,
            "ir.attachment",
            "create",
            [{"name": "hello.txt", "datas": base64.b64encode(CONTENT).decode()}],
        )
    )


@pytest.fixture
def scratch(odoo: OdooServer) -> Iterator[list[str]]:
    """Names of databases a test creates; dropped afterwards whatever happens."""
    names: list[str] = []
    yield names
    for name in names:
        odoo.drop_quietly(name)


def _params(odoo: OdooServer, db: str) -> dict[str, str]:
    rows = odoo.execute_kw(
        db,
        2,
        ADMIN_PASSWORD,
        "ir.config_parameter",
        "search_read",
        [
            [
                (
                    "key",
                    "in",
                    ["database.uuid", "database.secret", "database.create_date", "web.base.url"],
                )
            ]
        ],
        {"fields": ["key", "value"]},
    )
    return {row["key"]: row["value"] for row in rows}


def _attachment_content(odoo: OdooServer, db: str, attachment_id: int) -> bytes:
    [record] = odoo.execute_kw(
        db, 2, ADMIN_PASSWORD, "ir.attachment", "read", [[attachment_id]], {"fields": ["datas"]}
    )
    return base64.b64decode(record["datas"])


def test_public_methods_need_no_master_password(odoo: OdooServer, database: str) -> None:
    assert database in odoo.db("list")
    assert odoo.db("list") == sorted(odoo.db("list"))
    assert odoo.db("db_exist", database) is True
    assert odoo.db("db_exist", unique_db_name()) is False
    assert odoo.db("server_version").startswith(odoo.serie)
    languages = odoo.db("list_lang")
    assert ["en_US", "English (US)"] in languages


def test_list_countries_needs_the_master_password(odoo: OdooServer) -> None:
    countries = odoo.db("list_countries", odoo.master_password)
    assert all(len(pair) == 2 for pair in countries)
    with pytest.raises(RpcError) as caught:
        odoo.db("list_countries", "wrong-master")
    assert caught.value.name == "odoo.exceptions.AccessDenied"


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("create_database", ["x_db", False, "en_US", "pw", "admin"]),
        ("duplicate_database", ["x_db", "y_db"]),
        ("dump", ["x_db", "zip"]),
        ("restore", ["x_db", "AAAA", False]),
        ("change_admin_password", ["new-master"]),
        ("drop", ["x_db"]),
    ],
)
def test_wrong_or_empty_master_password_is_access_denied(
    odoo: OdooServer, method: str, args: list[object]
) -> None:
    for password in ("wrong-master", ""):
        with pytest.raises(RpcError) as caught:
            odoo.db(method, password, *args)
        assert caught.value.name == "odoo.exceptions.AccessDenied"
        assert caught.value.message == "Access Denied"


def test_create_database_with_a_taken_name_is_database_exists(
    odoo: OdooServer, database: str
) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.db("create_database", odoo.master_password, database, False, "en_US", "pw", "admin")
    assert caught.value.name == "odoo.service.db.DatabaseExists"
    assert caught.value.message == f"database {database!r} already exists!"


def test_drop_of_an_unknown_database_answers_false(odoo: OdooServer) -> None:
    assert odoo.db("drop", odoo.master_password, unique_db_name()) is False


def test_duplicate_regenerates_identity_and_copies_users_and_filestore(
    odoo: OdooServer, database: str, attachment_id: int, scratch: list[str]
) -> None:
    copy = unique_db_name()
    scratch.append(copy)
    before = _params(odoo, database)
    assert odoo.db("duplicate_database", odoo.master_password, database, copy) is True
    assert copy in odoo.db("list")
    after = _params(odoo, copy)
    assert after["database.uuid"] != before["database.uuid"]
    assert after["database.secret"] != before["database.secret"]
    assert re.match(r"^http://localhost:\d+$", after["web.base.url"])
    # Users (and their passwords) are copied, and so is the filestore.
    assert odoo.common("authenticate", copy, "admin", ADMIN_PASSWORD, {}) == 2
    assert _attachment_content(odoo, copy, attachment_id) == CONTENT
    if odoo.emulator_data_dir is not None:
        stored = odoo.emulator_data_dir / "filestore" / copy / CHECKSUM[:2] / CHECKSUM
        assert stored.read_bytes() == CONTENT


def test_duplicate_of_a_missing_source_is_postgresql_error(
    odoo: OdooServer, scratch: list[str]
) -> None:
    target = unique_db_name()
    scratch.append(target)
    with pytest.raises(RpcError) as caught:
        odoo.db("duplicate_database", odoo.master_password, unique_db_name(), target)
    assert caught.value.name.startswith("psycopg2.")


def test_duplicate_to_a_taken_name_is_postgresql_error(
    odoo: OdooServer, database: str, template_db: str
) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.db("duplicate_database", odoo.master_password, template_db, database)
    assert caught.value.name == "psycopg2.errors.DuplicateDatabase"


def test_neutralized_duplicate_is_flagged(
    odoo: OdooServer, database: str, scratch: list[str]
) -> None:
    copy = unique_db_name()
    scratch.append(copy)
    odoo.db("duplicate_database", odoo.master_password, database, copy, True)
    flag = odoo.execute_kw(
        copy, 2, ADMIN_PASSWORD, "ir.config_parameter", "get_param", ["database.is_neutralized"]
    )
    assert flag == "true" or flag is True


def test_zip_dump_layout_and_manifest(odoo: OdooServer, database: str, attachment_id: int) -> None:
    data = base64.b64decode(odoo.db("dump", odoo.master_password, database, "zip"))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names[0] == "dump.sql"
        assert "manifest.json" in names
        assert f"filestore/{CHECKSUM[:2]}/{CHECKSUM}" in names
        assert archive.read(f"filestore/{CHECKSUM[:2]}/{CHECKSUM}") == CONTENT
        manifest = json.loads(archive.read("manifest.json"))
        dump_sql = archive.read("dump.sql")
    assert b"CREATE TABLE public.res_users" in dump_sql
    assert b"OWNER TO" not in dump_sql  # pg_dump --no-owner
    assert manifest["odoo_dump"] == "1"
    assert manifest["db_name"] == database
    assert manifest["version"].startswith(odoo.serie)
    assert manifest["major_version"] == odoo.serie
    assert manifest["version_info"][:2] == odoo.version_info[:2]
    assert re.match(r"^\d+\.\d+$", manifest["pg_version"])
    assert manifest["modules"]["base"].startswith(odoo.serie)
    assert "web" in manifest["modules"]


def test_other_dump_formats_are_pg_custom_archives(odoo: OdooServer, database: str) -> None:
    data = base64.b64decode(odoo.db("dump", odoo.master_password, database, "dump"))
    assert data[:5] == b"PGDMP"


def test_dump_of_an_unknown_database_fails(odoo: OdooServer) -> None:
    with pytest.raises(RpcError):
        odoo.db("dump", odoo.master_password, unique_db_name(), "zip")


def test_restore_keeps_or_renews_identity_by_copy_flag(
    odoo: OdooServer, database: str, attachment_id: int, scratch: list[str]
) -> None:
    dump = odoo.db("dump", odoo.master_password, database, "zip")
    original = _params(odoo, database)
    kept, renewed = unique_db_name(), unique_db_name()
    scratch.extend([kept, renewed])

    assert odoo.db("restore", odoo.master_password, kept, dump, False) is True
    kept_params = _params(odoo, kept)
    assert kept_params["database.uuid"] == original["database.uuid"]
    assert kept_params["database.secret"] == original["database.secret"]
    assert kept_params["database.create_date"] == original["database.create_date"]
    assert odoo.common("authenticate", kept, "admin", ADMIN_PASSWORD, {}) == 2
    assert _attachment_content(odoo, kept, attachment_id) == CONTENT

    assert odoo.db("restore", odoo.master_password, renewed, dump, True) is True
    renewed_params = _params(odoo, renewed)
    assert renewed_params["database.uuid"] != original["database.uuid"]
    assert renewed_params["database.secret"] != original["database.secret"]
    assert re.match(r"^http://localhost:\d+$", renewed_params["web.base.url"])


def test_restore_onto_an_existing_database_is_refused(odoo: OdooServer, database: str) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.db("restore", odoo.master_password, database, "AAAA", False)
    assert caught.value.name == "builtins.Exception"
    assert caught.value.message == "Database already exists"


def test_restore_of_garbage_fails_and_leaves_an_empty_database(
    odoo: OdooServer, scratch: list[str]
) -> None:
    name = unique_db_name()
    scratch.append(name)
    garbage = base64.b64encode(b"this is not a dump" * 10).decode()
    with pytest.raises(RpcError) as caught:
        odoo.db("restore", odoo.master_password, name, garbage, False)
    assert caught.value.name == "builtins.Exception"
    assert caught.value.message == "Couldn't restore database"
    assert name in odoo.db("list")
    assert odoo.db("drop", odoo.master_password, name) is True
    assert name not in odoo.db("list")


def test_rename_moves_the_database(odoo: OdooServer, database: str, scratch: list[str]) -> None:
    first, second = unique_db_name(), unique_db_name()
    scratch.extend([first, second])
    odoo.db("duplicate_database", odoo.master_password, database, first)
    assert odoo.db("rename", odoo.master_password, first, second) is True
    databases = odoo.db("list")
    assert second in databases and first not in databases
    assert odoo.common("authenticate", second, "admin", ADMIN_PASSWORD, {}) == 2


def test_change_admin_password_replaces_the_master_password(odoo: OdooServer) -> None:
    new = odoo.master_password + "-changed"
    assert odoo.db("change_admin_password", odoo.master_password, new) is True
    try:
        with pytest.raises(RpcError) as caught:
            odoo.db("list_countries", odoo.master_password)
        assert caught.value.name == "odoo.exceptions.AccessDenied"
        assert odoo.db("list_countries", new)
    finally:
        odoo.db("change_admin_password", new, odoo.master_password)
    assert odoo.db("list_countries", odoo.master_password)
