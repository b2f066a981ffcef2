"""The project recommendation rules on records as the portal's copy holds them (Odoo's field
values): each rule fires on its case, with its impact, and not on the case next to it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from saas_server.marketing.project_recommendations import IMPACT, project_rules
from saas_server.portal.models import PortalRecord

pytestmark = pytest.mark.once

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
TENANT = uuid.uuid4()


def _record(model: str, odoo_id: int, **data: Any) -> PortalRecord:
    return PortalRecord(id=uuid.uuid4(), tenant_id=TENANT, model=model, odoo_id=odoo_id, data=data)


def _odoo(day: date, hour: int = 12) -> str:
    return f"{day.isoformat()} {hour:02d}:00:00"


STAGES = {
    1: _record("project.task.type", 1, name="In progress", fold=False),
    2: _record("project.task.type", 2, name="Done", fold=True),
    3: _record("project.task.type", 3, name="Awaiting approval", fold=False),
}
FRESH = _odoo(TODAY - timedelta(days=1))


def _task(odoo_id: int, stage: int, deadline: date | None, **data: Any) -> PortalRecord:
    return _record(
        "project.task",
        odoo_id,
        name=f"Task {odoo_id}",
        project_id=[7, "Shop"],
        stage_id=[stage, STAGES[stage].data["name"]],
        state=data.pop("state", "01_in_progress"),
        date_deadline=_odoo(deadline) if deadline else False,
        write_date=data.pop("write_date", FRESH),
        **data,
    )


def _project(**data: Any) -> PortalRecord:
    values = {"name": "Shop", "partner_id": [5, "Client Ltd"], "write_date": FRESH, **data}
    return _record("project.project", 7, **values)


def _rules(project: PortalRecord, tasks: list[PortalRecord]) -> dict[str, dict[str, Any]]:
    found = project_rules(project, tasks, STAGES, TODAY, NOW)
    rules = {r["rule"]: r for r in found}
    assert len(rules) == len(found)
    for rule in found:
        assert (rule["category"], rule["method"]) == ("projects", "rules")
        assert rule["impact"] == IMPACT[rule["rule"]]
    return rules


def test_closed_tasks_count_for_nothing_and_a_done_project_is_skipped() -> None:
    late = TODAY - timedelta(days=4)
    tasks = [
        _task(1, 2, late),  # folded stage: done
        _task(2, 1, late, state="1_canceled"),
        _task(3, 1, late),
    ]
    rules = _rules(_project(), tasks)
    assert set(rules) == {"projects-overdue-tasks"}
    [overdue] = rules["projects-overdue-tasks"]["evidence"]["tasks"]
    assert (overdue["name"], overdue["days_overdue"]) == ("Task 3", 4)
    assert rules["projects-overdue-tasks"]["evidence"]["tasks_open"] == 1
    assert _rules(_project(last_update_status="done"), tasks) == {}


def test_deadlines_status_waiting_and_inactivity() -> None:
    # Due today is due soon, not overdue; eight days out is neither.
    tasks = [_task(1, 1, TODAY), _task(2, 3, TODAY + timedelta(days=8))]
    rules = _rules(
        _project(date=(TODAY - timedelta(days=2)).isoformat(), last_update_status="off_track"),
        tasks,
    )
    assert set(rules) == {
        "projects-tasks-due-soon",
        "projects-waiting-on-client",
        "projects-deadline-passed",
        "projects-off-track",
    }
    assert [t["name"] for t in rules["projects-tasks-due-soon"]["evidence"]["tasks"]] == ["Task 1"]
    assert [t["name"] for t in rules["projects-waiting-on-client"]["evidence"]["tasks"]] == [
        "Task 2"
    ]
    assert rules["projects-deadline-passed"]["evidence"]["days_late"] == 2

    soon = _rules(
        _project(date=(TODAY + timedelta(days=14)).isoformat(), last_update_status="at_risk"),
        [_task(1, 1, None)],
    )
    assert set(soon) == {"projects-deadline-soon", "projects-at-risk"}
    later = _rules(_project(date=(TODAY + timedelta(days=15)).isoformat()), [_task(1, 1, None)])
    assert later == {}

    old = _odoo(TODAY - timedelta(days=31))
    idle = _rules(_project(write_date=old), [_task(1, 1, None, write_date=old)])
    assert set(idle) == {"projects-inactive"}
    assert idle["projects-inactive"]["evidence"]["days_idle"] == 31
    # One task moved last week: the project is not idle.
    moved = [_task(1, 1, None, write_date=old), _task(2, 1, None)]
    assert _rules(_project(write_date=old), moved) == {}
    # Every task done: nothing to chase, however old.
    assert _rules(_project(write_date=old), [_task(1, 2, None, write_date=old)]) == {}
