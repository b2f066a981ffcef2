"""project (the Project app): projects, their tasks, and the task stages (Odoo 17/18 fields)."""

from __future__ import annotations

from typing import Any, ClassVar

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import INTERNAL, SYSTEM
from odoo_emulator.orm.model import BaseModel

_ACCESS: dict[str, tuple[str, ...]] = {
    "read": (INTERNAL, SYSTEM),
    "write": (INTERNAL, SYSTEM),
    "create": (INTERNAL, SYSTEM),
    "unlink": (INTERNAL, SYSTEM),
}

PROJECT_STATUSES = (
    ("on_track", "On Track"),
    ("at_risk", "At Risk"),
    ("off_track", "Off Track"),
    ("on_hold", "On Hold"),
    ("to_define", "Set Status"),
    ("done", "Done"),
)
VISIBILITIES = (
    ("followers", "Invited internal users"),
    ("employees", "All internal users"),
    ("portal", "Invited portal users and all internal users"),
)
# project.task.state from 17.0 (kanban_state is gone).
TASK_STATES = (
    ("01_in_progress", "In Progress"),
    ("02_changes_requested", "Changes Requested"),
    ("03_approved", "Approved"),
    ("1_canceled", "Canceled"),
    ("1_done", "Done"),
    ("04_waiting_normal", "Waiting"),
)
CLOSED_STATES = ("1_canceled", "1_done")


class TaskType(BaseModel):
    _name = "project.task.type"
    _description = "Task Stage"
    _table = "project_task_type"
    _order = "sequence, id"
    _module = "project"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {"sequence": 1, "fold": False, "active": True}
    _field_list = [
        F.char("name", "Name", required=True, translate=True),
        F.text("description", "Description", translate=True),
        F.integer("sequence", "Sequence"),
        F.boolean("fold", "Folded in Kanban"),
        F.boolean("active", "Active"),
        F.many2many(
            "project_ids",
            "Projects",
            "project.project",
            "project_task_type_rel",
            "type_id",
            "project_id",
        ),
    ]


class TaskType18(TaskType):
    """18.0 dropped the stage's description (observed)."""

    _field_list = [f for f in TaskType._field_list if f.name != "description"]


# The group of project.project's stage_id: Project > Settings > "Project Stages" adds the
# internal users to it; until then (a new database) nobody but the superuser sees the field.
GROUP_PROJECT_STAGES = "project.group_project_stages"


class ProjectStage(BaseModel):
    """project.project.stage: the stages of projects themselves (16.0+), beside the tasks'."""

    _name = "project.project.stage"
    _description = "Project Stage"
    _table = "project_project_stage"
    _order = "sequence, id"
    _module = "project"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {"sequence": 50, "fold": False, "active": True}
    _field_list = [
        F.boolean("active", "Active"),
        F.integer("sequence", "Sequence"),
        F.char("name", "Name", required=True, translate=True),
        F.boolean("fold", "Folded in Kanban"),
    ]


class Project(BaseModel):
    _name = "project.project"
    _description = "Project"
    _table = "project_project"
    _order = "sequence, name, id"
    _module = "project"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {
        "active": True,
        "sequence": 10,
        "privacy_visibility": "portal",
        "last_update_status": "to_define",
        "company_id": 1,
    }
    _field_list = [
        F.char("name", "Name", required=True, translate=True),
        F.html("description", "Description"),
        F.boolean("active", "Active"),
        F.integer("sequence", "Sequence"),
        F.many2one("partner_id", "Customer", "res.partner"),
        F.many2one("company_id", "Company", "res.company"),
        F.many2one("user_id", "Project Manager", "res.users"),
        F.date("date_start", "Start Date"),
        F.date("date", "Expiration Date"),
        F.selection("privacy_visibility", "Visibility", VISIBILITIES, required=True),
        F.selection("last_update_status", "Status", PROJECT_STATUSES, required=True),
        F.many2one("stage_id", "Stage", "project.project.stage", groups=(GROUP_PROJECT_STAGES,)),
        F.integer("color", "Color Index"),
        F.one2many("tasks", "Task Activities", "project.task", "project_id"),
        F.one2many("task_ids", "Tasks", "project.task", "project_id"),
        F.many2many(
            "type_ids",
            "Tasks Stages",
            "project.task.type",
            "project_task_type_rel",
            "project_id",
            "type_id",
        ),
        F.integer("task_count", "Task Count", store=False, readonly=True),
        F.integer("open_task_count", "Open Task Count", store=False, readonly=True),
        F.integer("closed_task_count", "Closed Task Count", store=False, readonly=True),
    ]

    async def _count_tasks(self, ids: list[int], closed: bool | None) -> dict[int, Any]:
        """Active tasks per project: all (None), the closed ones or the open ones."""
        cur = await self.conn.execute(
            "SELECT p.id, count(t.id) FROM project_project p LEFT JOIN project_task t"
            " ON t.project_id = p.id AND t.active"
            " AND (%s::boolean IS NULL OR (t.state = ANY(%s)) = %s::boolean)"
            " WHERE p.id = ANY(%s) GROUP BY p.id",
            (closed, list(CLOSED_STATES), closed, ids),
        )
        return {i: int(n) for i, n in await cur.fetchall()}

    async def compute_task_count(self, ids: list[int]) -> dict[int, Any]:
        return await self._count_tasks(ids, None)

    async def compute_open_task_count(self, ids: list[int]) -> dict[int, Any]:
        return await self._count_tasks(ids, False)

    async def compute_closed_task_count(self, ids: list[int]) -> dict[int, Any]:
        return await self._count_tasks(ids, True)


class Task(BaseModel):
    _name = "project.task"
    _description = "Task"
    _table = "project_task"
    _order = "priority desc, sequence, id desc"
    _module = "project"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {
        "active": True,
        "sequence": 10,
        "priority": "0",
        "state": "01_in_progress",
        "company_id": 1,
    }
    _field_list = [
        F.char("name", "Title", required=True),
        F.html("description", "Description"),
        F.boolean("active", "Active"),
        F.integer("sequence", "Sequence"),
        F.selection("priority", "Priority", (("0", "Low"), ("1", "High"))),
        F.selection("state", "State", TASK_STATES, required=True),
        F.many2one("project_id", "Project", "project.project"),
        F.many2one("stage_id", "Stage", "project.task.type"),
        F.many2one("partner_id", "Customer", "res.partner"),
        F.many2one("company_id", "Company", "res.company"),
        F.many2one("parent_id", "Parent Task", "project.task"),
        F.many2many(
            "user_ids", "Assignees", "res.users", "project_task_user_rel", "task_id", "user_id"
        ),
        F.datetime("date_deadline", "Deadline"),
        F.datetime("date_end", "Ending Date", readonly=True),
        F.datetime("date_last_stage_update", "Last Stage Update", readonly=True),
    ]

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        vals["date_last_stage_update"] = F.now_utc()
        if vals.get("project_id") and not vals.get("partner_id"):
            # The task's customer defaults to its project's.
            row = await (
                await self.conn.execute(
                    "SELECT partner_id FROM project_project WHERE id = %s", (vals["project_id"],)
                )
            ).fetchone()
            if row and row[0]:
                vals["partner_id"] = row[0]
        if vals.get("project_id") and not vals.get("stage_id"):
            row = await (
                await self.conn.execute(
                    "SELECT t.id FROM project_task_type t JOIN project_task_type_rel r"
                    " ON r.type_id = t.id WHERE r.project_id = %s AND t.active"
                    " ORDER BY t.sequence, t.id LIMIT 1",
                    (vals["project_id"],),
                )
            ).fetchone()
            if row:
                vals["stage_id"] = row[0]
        return vals

    async def before_write(self, vals: dict[str, Any]) -> None:
        if "stage_id" in vals:
            vals["date_last_stage_update"] = F.now_utc()
        if vals.get("state") in CLOSED_STATES:
            vals["date_end"] = F.now_utc()
