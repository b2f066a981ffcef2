"""``saas openapi``: writes the document and a Postman collection (v2.1) made from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saas_server.cli.main import app
from saas_server.cli.openapi import DEFAULT_POSTMAN
from saas_server.cli.postman import SCHEMA_URL

runner = CliRunner()


def test_writes_the_document_and_a_postman_collection(tmp_path: Path) -> None:
    document_path, collection_path = tmp_path / "openapi.json", tmp_path / "postman.json"
    args = ["openapi", "--output", str(document_path), "--postman", str(collection_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(document_path.read_text())
    collection = json.loads(collection_path.read_text())
    assert collection["info"]["schema"] == SCHEMA_URL
    # One folder per tag, in the document's order.
    assert [f["name"] for f in collection["item"]] == [t["name"] for t in document["tags"]]
    requests = {i["id"]: i for f in collection["item"] for i in f["item"]}
    operations = [o for item in document["paths"].values() for o in item.values()]
    assert set(requests) == {o["operationId"] for o in operations}

    create = requests["backups_create"]["request"]
    assert create["method"] == "POST"
    assert create["url"]["path"] == ["api", "v1", "tenants", ":tenant_id", "backups"]
    assert create["url"]["variable"][0]["value"] == "{{tenant_id}}"
    assert "auth" not in create  # the collection's bearer {{accessToken}}
    assert json.loads(create["body"]["raw"]) == {"reason": "Requested by the customer"}
    assert collection["auth"]["bearer"][0]["value"] == "{{accessToken}}"
    # Public operations send no credentials.
    assert requests["auth_register"]["request"]["auth"] == {"type": "noauth"}
    listed = requests["backups_list"]["request"]["url"]["query"]
    assert {q["key"]: q["value"] for q in listed}["page_size"] == "20"
    # A form body (the OAuth2 token endpoint) is sent urlencoded.
    assert requests["auth_token"]["request"]["body"]["mode"] == "urlencoded"

    again = tmp_path / "again.json"
    runner.invoke(app, ["openapi", "--output", str(tmp_path / "o2.json"), "--postman", str(again)])
    assert again.read_text() == collection_path.read_text(), "the same document, the same file"


def test_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    result = runner.invoke(app, ["openapi", "--output", str(stale), "--check"])
    assert result.exit_code == 1
    assert "run `saas openapi`" in result.output
    assert runner.invoke(app, ["openapi", "--output", str(stale)]).exit_code == 0
    assert runner.invoke(app, ["openapi", "--output", str(stale), "--check"]).exit_code == 0


def test_postman_alone_writes_the_collection_to_its_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["--postman"], ["--postman", "--output", "o.json"]):
        result = runner.invoke(app, ["openapi", "--output", "o.json", *args])
        assert result.exit_code == 0, result.output
        collection = json.loads((tmp_path / DEFAULT_POSTMAN).read_text())
        assert collection["info"]["schema"] == SCHEMA_URL
        (tmp_path / DEFAULT_POSTMAN).unlink()
    assert DEFAULT_POSTMAN == Path("sdk/postman_collection.json")
