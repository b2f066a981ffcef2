"""core/lifecycle.py: every status field's table refuses what it does not allow, and its
page in docs/ is generated from it (a stale page fails here)."""

from __future__ import annotations

import enum
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from saas_server.cli.docs import stale_pages
from saas_server.cli.main import app
from saas_server.core.errors import Conflict
from saas_server.core.lifecycle import Lifecycle
from saas_server.wiring import lifecycles

# Transition tables and their generated pages: no database difference to find.
pytestmark = pytest.mark.once

DOCS = Path(__file__).resolve().parents[2] / "docs"


class Light(enum.StrEnum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


class Switch(enum.StrEnum):
    PRESS = "press"
    BREAK = "break"


LIGHT: Lifecycle[Light, Switch] = Lifecycle(
    "appliance",
    {
        (Light.OFF, Switch.PRESS): Light.ON,
        (Light.ON, Switch.PRESS): Light.OFF,
        (Light.ON, Switch.BREAK): Light.BROKEN,
    },
    initial=(Light.OFF,),
    final=(Light.BROKEN,),
    user_actions=(Switch.PRESS,),
    source="tests/core/test_lifecycles.py",
    description="A light.",
)


def test_apply_moves_along_the_table_and_refuses_the_rest() -> None:
    thing = SimpleNamespace(status="off")
    assert LIGHT.apply(thing, Switch.PRESS) is Light.ON
    assert thing.status == "on"
    LIGHT.apply(thing, Switch.BREAK)
    with pytest.raises(Conflict) as caught:
        LIGHT.apply(thing, Switch.PRESS)
    assert thing.status == "broken"  # unchanged by the refusal
    assert caught.value.status_code == 409
    assert caught.value.message == "Cannot press an appliance that is broken"
    assert caught.value.details == {"status": "broken", "action": "press", "allowed_actions": []}


def test_a_refusal_lists_only_what_users_may_ask_for() -> None:
    assert LIGHT.allowed_actions("on") == ["break", "press"]
    with pytest.raises(Conflict) as refused:
        LIGHT.next_status("off", Switch.BREAK)
    assert refused.value.details["allowed_actions"] == ["press"]  # not "break": internal


def test_the_page_holds_the_diagram() -> None:
    page = LIGHT.page()
    assert LIGHT.doc_name == "appliance-lifecycle.md"
    assert page.startswith("# Appliance lifecycle\n")
    assert "A light." in page
    assert "```mermaid\nstateDiagram-v2\n    [*] --> off\n    off --> on: press\n" in page
    assert "    broken --> [*]\n```\n" in page


def test_every_status_field_has_its_table() -> None:
    names = {lifecycle.name for lifecycle in lifecycles()}
    assert {"instance", "host", "standby database", "backup", "restore"} <= names


@pytest.mark.parametrize("lifecycle", lifecycles(), ids=lambda lc: lc.name)
def test_every_status_appears_in_its_table(
    lifecycle: Lifecycle[enum.StrEnum, enum.StrEnum],
) -> None:
    statuses = {s for pair in lifecycle.transitions for s in (pair[0],)} | set(
        lifecycle.transitions.values()
    )
    enum_class = type(next(iter(statuses)))
    assert statuses == set(enum_class), f"{lifecycle.name}: states outside its table"


def test_no_lifecycle_page_is_stale() -> None:
    assert stale_pages(DOCS) == [], "run `saas docs lifecycles`"


def test_the_command_writes_the_pages_and_check_finds_a_stale_one(tmp_path: Path) -> None:
    runner = CliRunner()
    written = runner.invoke(app, ["docs", "lifecycles", "--docs-dir", str(tmp_path)])
    assert written.exit_code == 0, written.output
    for lifecycle in lifecycles():
        assert (tmp_path / lifecycle.doc_name).read_text() == lifecycle.page()
    check = ["docs", "lifecycles", "--check", "--docs-dir", str(tmp_path)]
    assert runner.invoke(app, check).exit_code == 0

    page = tmp_path / "backup-lifecycle.md"
    page.write_text(page.read_text().replace("completed", "done"))
    checked = runner.invoke(app, check)
    assert checked.exit_code == 1
    assert "backup-lifecycle.md" in checked.output
    (tmp_path / "host-lifecycle.md").unlink()
    assert stale_pages(tmp_path) == ["host-lifecycle.md", "backup-lifecycle.md"]
