"""Both transports and their error shapes (odoo-protocol.md sections 1.1, 1.2, 3, 10.4, 11.1)."""

from __future__ import annotations

import xmlrpc.client

import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, RpcError


def _error_code(odoo: OdooServer) -> int:
    return 0 if odoo.major >= 19 else 200


def test_jsonrpc_success_echoes_the_id_and_sets_nosniff(odoo: OdooServer) -> None:
    response = odoo.http.post(
        odoo.url + "/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": "req-42",
            "params": {"service": "common", "method": "version", "args": []},
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-content-type-options") == "nosniff"
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == "req-42"
    assert body["result"]["server_serie"] == odoo.serie
    assert "set-cookie" not in response.headers


def test_jsonrpc_without_id_answers_a_null_id(odoo: OdooServer) -> None:
    response = odoo.http.post(
        odoo.url + "/jsonrpc",
        json={"jsonrpc": "2.0", "params": {"service": "common", "method": "version", "args": []}},
    )
    assert response.json()["id"] is None


@pytest.mark.parametrize(
    "content_type", ["application/json-rpc", "application/json; charset=utf-8"]
)
def test_jsonrpc_accepts_both_json_mimetypes(odoo: OdooServer, content_type: str) -> None:
    response = odoo.http.post(
        odoo.url + "/jsonrpc",
        content=b'{"jsonrpc":"2.0","id":1,"params":{"service":"common","method":"version","args":[]}}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200
    assert response.json()["result"]["server_serie"] == odoo.serie


def test_jsonrpc_with_another_content_type_is_refused_with_an_html_page(odoo: OdooServer) -> None:
    response = odoo.http.post(
        odoo.url + "/jsonrpc",
        content=b'{"jsonrpc":"2.0","id":1,"params":{"service":"common","method":"version","args":[]}}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == (415 if odoo.major >= 19 else 400)
    assert response.headers["content-type"].startswith("text/html")
    assert "Request inferred type is compatible with" in response.text


def test_jsonrpc_invalid_json_is_a_400_text(odoo: OdooServer) -> None:
    response = odoo.http.post(
        odoo.url + "/jsonrpc", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.text == "Invalid JSON data"
    assert response.headers["content-type"].startswith("text/html")


def test_jsonrpc_json_that_is_not_an_object_is_a_400(odoo: OdooServer) -> None:
    response = odoo.http.post(odoo.url + "/jsonrpc", json=[1, 2, 3])
    assert response.status_code == 400
    assert response.text == "Invalid JSON-RPC data"


def test_jsonrpc_error_envelope_has_odoo_shape_and_no_nosniff(odoo: OdooServer) -> None:
    response = odoo.http.post(
        odoo.url + "/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "id": 7,
            "params": {"service": "db", "method": "drop", "args": ["wrong-master", "nope_db"]},
        },
    )
    assert response.status_code == 200
    assert "x-content-type-options" not in response.headers
    body = response.json()
    assert body["id"] == 7
    assert "result" not in body
    error = body["error"]
    assert error["code"] == _error_code(odoo)
    assert error["message"] == "Odoo Server Error"
    data = error["data"]
    assert data["name"] == "odoo.exceptions.AccessDenied"
    assert data["message"] == "Access Denied"
    assert data["arguments"] == ["Access Denied"]
    assert data["context"] == {}
    assert "AccessDenied" in data["debug"]


def test_unknown_service_is_a_key_error_without_quotes(odoo: OdooServer) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.jsonrpc("nosvc", "version")
    assert caught.value.name == "builtins.KeyError"
    assert caught.value.message == "nosvc"


def test_unknown_common_method_is_an_exception(odoo: OdooServer) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.common("foo")
    assert caught.value.name == "builtins.Exception"
    assert caught.value.message == "Method not found: foo"


def test_unknown_db_method_is_a_key_error(odoo: OdooServer) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.db("foo", odoo.master_password)
    assert caught.value.name == "builtins.KeyError"
    assert caught.value.message == "Method not found: foo"


def test_xmlrpc2_answers_text_xml(odoo: OdooServer) -> None:
    response = odoo.http.post(
        odoo.url + "/xmlrpc/2/common",
        content=xmlrpc.client.dumps((), "version").encode(),
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    (result,), _ = xmlrpc.client.loads(response.content)
    assert result["server_serie"] == odoo.serie


def test_xmlrpc2_fault_codes_are_integers(odoo: OdooServer) -> None:
    db = odoo.xmlrpc("db")
    with pytest.raises(xmlrpc.client.Fault) as denied:
        db.drop("wrong-master", "nope_db")
    assert denied.value.faultCode == 3
    assert denied.value.faultString == "Access Denied"
    with pytest.raises(xmlrpc.client.Fault) as unknown:
        db.foo(odoo.master_password)
    assert unknown.value.faultCode == 1
    assert "Method not found: foo" in unknown.value.faultString
    assert "Traceback" in unknown.value.faultString


def test_legacy_xmlrpc_fault_codes_are_strings(odoo: OdooServer, database: str) -> None:
    with pytest.raises(xmlrpc.client.Fault) as denied:
        odoo.xmlrpc("db", legacy=True).drop("wrong-master", "nope_db")
    assert denied.value.faultCode == "AccessDenied"
    assert denied.value.faultString == "Access Denied"
    uid = odoo.xmlrpc("common", legacy=True).login(database, "admin", ADMIN_PASSWORD)
    assert isinstance(uid, int) and uid > 0
    with pytest.raises(xmlrpc.client.Fault) as user_error:
        odoo.xmlrpc("object", legacy=True).execute_kw(
            database, uid, ADMIN_PASSWORD, "no.such.model", "search", [[]]
        )
    assert (
        user_error.value.faultCode == "warning -- UserError\n\nObject no.such.model doesn't exist"
    )
    assert user_error.value.faultString == ""


def test_legacy_xmlrpc_common_version_and_login(odoo: OdooServer, database: str) -> None:
    common = odoo.xmlrpc("common", legacy=True)
    assert common.version()["server_serie"] == odoo.serie
    assert common.login(database, "admin", "wrong-password") is False


def test_xmlrpc_get_is_not_allowed(odoo: OdooServer) -> None:
    response = odoo.http.get(odoo.url + "/xmlrpc/2/common")
    assert response.status_code == 405


def test_object_service_only_has_execute_and_execute_kw(odoo: OdooServer, database: str) -> None:
    uid = odoo.common("login", database, "admin", ADMIN_PASSWORD)
    with pytest.raises(RpcError) as caught:
        odoo.jsonrpc("object", "foo", database, uid, ADMIN_PASSWORD)
    assert caught.value.name == "builtins.NameError"
    assert caught.value.message == "Method not available foo"
