"""The Postman collection ``saas openapi --postman`` makes, run with newman against a live
``saas serve`` (issue 18): register, verify (the token from the test's SMTP inbox, passed to
the second run with ``--env-var``), log in, create a tenant, wait until it is ready, back up
twice, list the backups a page at a time.

Each step is a request of the generated collection, found by its id (the operationId), with
the scenario's body and a test script added: what the collection says about paths, methods,
authentication and URLs is what runs. newman comes from tests/newman/package-lock.json
(``npm ci`` when node_modules is missing).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.odoo import SAAS
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.once]

HERE = Path(__file__).resolve().parent
NEWMAN = HERE / "node_modules" / ".bin" / "newman"
EMAIL = "newman@example.com"


@dataclass
class Step:
    """One request of the scenario: an operation of the collection, its JSON body, the
    status it must answer, and JavaScript run on the answer (``body`` is the parsed JSON)."""

    operation_id: str
    status: int
    body: dict[str, Any] | None = None
    script: str = ""
    query: dict[str, str] = field(default_factory=dict)
    name: str = ""


def _newman() -> Path:
    if shutil.which("npm") is None and shutil.which("apt-get") and os.geteuid() == 0:
        # CI's Debian image: Node and npm from the distribution's registry.
        subprocess.run(["apt-get", "install", "-y", "nodejs", "npm"], check=False, timeout=900)
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: make test installs it (apt-get install -y nodejs npm)")
    if not NEWMAN.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)
    return NEWMAN


def _requests_by_id(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for folder in collection["item"]:
        for item in folder["item"]:
            found[item["id"]] = item
    return found


def _item(requests: dict[str, dict[str, Any]], step: Step, index: int) -> dict[str, Any]:
    item = copy.deepcopy(requests[step.operation_id])
    item["id"] = f"{index:02d}-{step.name or step.operation_id}"
    item["name"] = item["id"]
    request = item["request"]
    if step.body is not None:
        assert request["body"]["mode"] == "raw", step.operation_id
        request["body"]["raw"] = json.dumps(step.body)
    for parameter in request["url"].get("query", []):
        if parameter["key"] in step.query:
            parameter["value"] = step.query[parameter["key"]]
            parameter["disabled"] = False
        else:
            parameter["disabled"] = True
    script = f"""
pm.test("{item["id"]} answers {step.status}", function () {{
    pm.response.to.have.status({step.status});
}});
const body = pm.response.text() ? pm.response.json() : null;
{step.script}
"""
    item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": [script]}}]
    return item


def _poll(condition: str, what: str) -> str:
    """JavaScript that asks the same request again (a second later) until ``condition``."""
    return f"""
if (!({condition})) {{
    const tries = Number(pm.environment.get("tries") || 0) + 1;
    pm.environment.set("tries", tries);
    pm.test("{what} within 300 s", function () {{ pm.expect(tries).to.be.below(300); }});
    if (tries < 300) {{
        setTimeout(function () {{}}, 1000);
        postman.setNextRequest(pm.info.requestId);
    }}
}} else {{
    pm.environment.set("tries", 0);
}}
"""


def _run(
    newman: Path,
    collection: dict[str, Any],
    steps: list[Step],
    variables: dict[str, str],
    tmp: Path,
) -> dict[str, Any]:
    requests = _requests_by_id(collection)
    stage = {**collection, "item": [_item(requests, s, i) for i, s in enumerate(steps)]}
    path = tmp / f"stage-{steps[0].operation_id}.json"
    path.write_text(json.dumps(stage, indent=2))
    report = path.with_suffix(".report.json")
    command = [str(newman), "run", str(path), "--bail", "--reporters", "cli,json"]
    command += ["--reporter-json-export", str(report)]
    for key, value in variables.items():
        command += ["--env-var", f"{key}={value}"]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    run = json.loads(report.read_text())["run"]
    assert run["failures"] == [], run["failures"]
    return run  # type: ignore[no-any-return]


@pytest.fixture
def serve(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[ServeProcess]:
    workdir = tmp_path / "platform"
    workdir.mkdir()
    process = ServeProcess(workdir, smtp_server.port)
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


async def test_the_generated_collection_runs_the_journey_with_newman(
    serve: ServeProcess, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    newman = _newman()
    collection_path = tmp_path / "collection.json"
    written = subprocess.run(
        [SAAS, "openapi", "--output", str(tmp_path / "openapi.json"), "--postman", collection_path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert written.returncode == 0, written.stderr
    collection = json.loads(collection_path.read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")

    smtp_server.inbox.clear()
    serve.start()
    variables = {"baseUrl": serve.base_url, "email": EMAIL, "password": DEFAULT_PASSWORD}

    registering = [
        Step(
            "auth_register",
            201,
            {"email": "{{email}}", "password": "{{password}}", "full_name": "Newman"},
            'pm.test("registered unverified", function () {'
            " pm.expect(body.email_verified).to.equal(false); });",
        )
    ]
    _run(newman, collection, registering, variables, tmp_path)

    mail = await smtp_server.inbox.wait_for(EMAIL, timeout=60)
    variables["verifyToken"] = mail.token()
    journey = [
        Step("auth_verify_email", 200, {"token": "{{verifyToken}}"}),
        Step(
            "auth_login",
            200,
            {"email": "{{email}}", "password": "{{password}}"},
            'pm.environment.set("accessToken", body.access_token);',
        ),
        Step(
            "tenants_create",
            202,
            {"name": "Newman Corp", "subdomain": "newman"},
            'pm.environment.set("tenant_id", body.id);',
        ),
        Step(
            "tenants_get",
            200,
            script='pm.test("provisioning has not failed", function () {'
            ' pm.expect((body.instance || {}).status).to.not.equal("failed"); });'
            + _poll('body.instance && body.instance.status === "ready"', "ready"),
            name="wait-until-ready",
        ),
        Step(
            "backups_create",
            202,
            {"reason": "newman"},
            'pm.environment.set("backup_id", body.id);',
        ),
        Step(
            "backups_get",
            200,
            script='pm.test("backup has not failed", function () {'
            ' pm.expect(body.status).to.not.equal("failed"); });'
            + _poll('body.status === "completed"', "first backup completed"),
            name="wait-for-first-backup",
        ),
        Step("backups_create", 202, {"reason": "newman again"}, name="second-backup"),
        Step(
            "backups_list",
            200,
            query={"page": "1", "page_size": "1"},
            script="""
pm.test("the first page holds one of two backups", function () {
    pm.expect(body.count).to.equal(2);
    pm.expect(body.results).to.have.lengthOf(1);
    pm.expect(body.previous).to.equal(null);
    pm.expect(body.next).to.include("page=2");
});
pm.environment.set("first_listed", body.results[0].id);
""",
            name="list-page-1",
        ),
        Step(
            "backups_list",
            200,
            query={"page": "2", "page_size": "1"},
            script="""
pm.test("the second page holds the other backup", function () {
    pm.expect(body.count).to.equal(2);
    pm.expect(body.results).to.have.lengthOf(1);
    pm.expect(body.results[0].id).to.not.equal(pm.environment.get("first_listed"));
    pm.expect(body.next).to.equal(null);
    pm.expect(body.previous).to.include("page=1");
});
""",
            name="list-page-2",
        ),
    ]
    run = _run(newman, collection, journey, variables, tmp_path)
    assert run["stats"]["assertions"]["failed"] == 0
    assert run["stats"]["requests"]["total"] >= len(journey)
    assert serve.stop() == 0
