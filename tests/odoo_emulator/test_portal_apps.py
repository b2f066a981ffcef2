"""The apps a client portal reads (project, account, website_blog): installed through
``ir.module.module``, then their models exist with Odoo 17/18's fields and rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, RpcError

APPS = ["project", "account", "website_blog"]


@pytest.fixture(scope="module")
def call(odoo: OdooServer, database: str) -> Any:
    def call_as_admin(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return odoo.execute_kw(database, 2, ADMIN_PASSWORD, model, method, list(args), kwargs)

    return call_as_admin


@pytest.fixture(scope="module")
def installed(call: Any) -> None:
    modules = call("ir.module.module", "search_read", [("name", "in", APPS)], fields=["state"])
    assert len(modules) == 3
    pending = [m["id"] for m in modules if m["state"] != "installed"]
    if pending:
        call("ir.module.module", "button_immediate_install", pending)


def test_app_models_exist_only_once_their_module_is_installed(
    odoo: OdooServer, template_db: str
) -> None:
    if not odoo.is_emulator:
        pytest.skip("a real server's template may have the apps installed")
    with pytest.raises(RpcError) as refused:
        odoo.execute_kw(template_db, 2, ADMIN_PASSWORD, "project.project", "search", [[]], {})
    assert "project.project" in refused.value.message


def test_install_marks_the_apps_and_their_dependencies_installed(
    call: Any, installed: None
) -> None:
    states = {
        m["name"]: m["state"]
        for m in call(
            "ir.module.module",
            "search_read",
            [("name", "in", [*APPS, "mail", "portal", "website"])],
            fields=["name", "state"],
        )
    }
    assert set(states.values()) == {"installed"}, states
    assert call("project.project", "search_count", []) >= 0


def test_projects_tasks_and_stages(call: Any, installed: None) -> None:
    client = call("res.partner", "create", {"name": "Client Co", "is_company": True})
    todo = call("project.task.type", "create", {"name": "To Do", "sequence": 1})
    done = call("project.task.type", "create", {"name": "Done", "sequence": 9, "fold": True})
    project = call(
        "project.project",
        "create",
        {
            "name": "Website redesign",
            "partner_id": client,
            "date": "2027-03-01",
            "type_ids": [(6, 0, [todo, done])],
        },
    )
    task = call("project.task", "create", {"name": "Mockups", "project_id": project})
    [read] = call(
        "project.task",
        "read",
        [task],
        fields=["stage_id", "partner_id", "state", "date_last_stage_update", "write_date"],
    )
    # A new task starts in its project's first stage, for its project's customer.
    assert read["stage_id"][0] == todo and read["partner_id"][0] == client
    assert read["state"] == "01_in_progress"
    call("project.task", "write", [task], {"stage_id": done, "state": "1_done"})
    [moved] = call("project.task", "read", [task], fields=["stage_id", "date_end"])
    assert moved["stage_id"][0] == done and moved["date_end"]
    [counted] = call(
        "project.project",
        "read",
        [project],
        fields=["task_count", "closed_task_count", "partner_id", "date", "last_update_status"],
    )
    assert counted["task_count"] == 1 and counted["closed_task_count"] == 1
    assert counted["date"] == "2027-03-01" and counted["last_update_status"] == "to_define"


def test_project_stages_are_for_the_users_of_their_group(
    odoo: OdooServer, call: Any, installed: None
) -> None:
    """project.project's stage_id (project.project.stage) belongs to the group "Project
    Stages" (Project's setting): outside it, fields_get leaves it out and reading it is an
    AccessError; in it, it reads as any many2one."""
    # project.group_project_stages, added by the app.
    [group] = call("res.groups", "search", [("name", "=", "Use Stages on Project")])
    project = call("project.project", "create", {"name": "Staged"})
    assert "stage_id" not in call("project.project", "fields_get", ["stage_id"])
    with pytest.raises(RpcError) as refused:
        call("project.project", "read", [project], fields=["name", "stage_id"])
    assert refused.value.name == "odoo.exceptions.AccessError"
    assert "stage_id" not in call("project.project", "read", [project])[0]
    with pytest.raises(RpcError) as not_written:
        call("project.project", "write", [project], {"stage_id": False})
    assert not_written.value.name == "odoo.exceptions.AccessError"
    groups_field = "group_ids" if odoo.major >= 19 else "groups_id"
    call("res.users", "write", [2], {groups_field: [(4, group)]})
    try:
        described = call(
            "project.project", "fields_get", ["stage_id"], attributes=["type", "relation"]
        )
        assert described == {"stage_id": {"type": "many2one", "relation": "project.project.stage"}}
        stage = call("project.project.stage", "create", {"name": "Live", "sequence": 5})
        call("project.project", "write", [project], {"stage_id": stage})
        [read] = call("project.project", "read", [project], fields=["stage_id"])
        assert read["stage_id"] == [stage, "Live"]
    finally:
        call("res.users", "write", [2], {groups_field: [(3, group)]})
    assert "stage_id" not in call("project.project", "fields_get", ["stage_id"])


def test_customer_invoices_are_totalled_numbered_on_posting_and_due(
    odoo: OdooServer, call: Any, installed: None
) -> None:
    company = call("res.partner", "create", {"name": "Invoiced Co", "is_company": True})
    contact = call("res.partner", "create", {"name": "Buyer", "parent_id": company})
    move = call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": contact,
            "invoice_date_due": "2027-01-31",
            "invoice_line_ids": [
                (0, 0, {"name": "Design", "quantity": 2, "price_unit": 150.0}),
                (0, 0, {"name": "Hosting", "quantity": 1, "price_unit": 25.5}),
            ],
        },
    )
    fields = ["name", "state", "amount_total", "amount_residual", "commercial_partner_id"]
    [draft] = call("account.move", "read", [move], fields=fields)
    assert draft["state"] == "draft" and draft["amount_total"] == 325.5
    # No number before posting from 18.0 (False); 17.0 numbers the journal's first draft at
    # once (this is the database's first invoice) and later ones are "/" until posted.
    assert draft["name"] == (f"INV/{draft_year()}/00001" if odoo.major < 18 else False)
    second = call(
        "account.move",
        "create",
        {"move_type": "out_invoice", "partner_id": contact, "invoice_line_ids": []},
    )
    [later] = call("account.move", "read", [second], fields=["name"])
    assert later["name"] == ("/" if odoo.major < 18 else False)
    call("account.move", "unlink", [second])
    assert draft["commercial_partner_id"][0] == company
    call("account.move", "action_post", [move])
    [posted] = call("account.move", "read", [move], fields=[*fields, "payment_state"])
    assert posted["state"] == "posted" and posted["name"].startswith("INV/")
    assert posted["amount_residual"] == 325.5 and posted["payment_state"] == "not_paid"


def test_registering_a_payment_pays_the_invoice(call: Any, installed: None) -> None:
    """As Odoo's "Register Payment" dialog: the wizard on the invoice (``active_ids``), then
    ``action_create_payments``. Writing ``payment_state`` is no payment: nothing else moves."""
    client = call("res.partner", "create", {"name": "Paying Co", "is_company": True})
    move = call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": client,
            "invoice_line_ids": [(0, 0, {"name": "Audit", "quantity": 1, "price_unit": 400.0})],
        },
    )
    call("account.move", "action_post", [move])
    wizard = call(
        "account.payment.register",
        "create",
        {},
        context={"active_model": "account.move", "active_ids": [move]},
    )
    call("account.payment.register", "action_create_payments", [wizard])
    [paid] = call("account.move", "read", [move], fields=["amount_residual", "payment_state"])
    # "in_payment" where the accountant app is installed.
    assert paid["amount_residual"] == 0 and paid["payment_state"] in ("paid", "in_payment")

    other = call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": client,
            "invoice_line_ids": [(0, 0, {"name": "Audit", "quantity": 1, "price_unit": 50.0})],
        },
    )
    call("account.move", "action_post", [other])
    call("account.move", "write", [other], {"payment_state": "paid"})
    [written] = call("account.move", "read", [other], fields=["amount_residual"])
    assert written["amount_residual"] == 50.0


def test_published_blog_posts(call: Any, installed: None) -> None:
    blog = call("blog.blog", "create", {"name": "Agency news"})
    tag = call("blog.tag", "create", {"name": "SEO"})
    post = call(
        "blog.post",
        "create",
        {
            "name": "Ten tips",
            "blog_id": blog,
            "content": "<p>First tip: write well.</p>",
            "tag_ids": [(6, 0, [tag])],
            "is_published": True,
        },
    )
    [read] = call(
        "blog.post",
        "read",
        [post],
        fields=["name", "blog_id", "tag_ids", "is_published", "post_date", "teaser"],
    )
    assert read["blog_id"][0] == blog and read["tag_ids"] == [tag]
    assert read["is_published"] is True and read["post_date"]
    assert "First tip" in read["teaser"]


def test_a_portal_user_is_a_share_user(odoo: OdooServer, call: Any) -> None:
    company = call("res.partner", "create", {"name": "Portal Client", "is_company": True})
    contact = call(
        "res.partner",
        "create",
        {"name": "Pat Portal", "parent_id": company, "email": "pat@client.example"},
    )
    [group] = call("res.groups", "search", [("name", "=", "Portal")])
    user = call(
        "res.users",
        "create",
        {
            "login": "pat@client.example",
            "partner_id": contact,
            "password": "portal-secret-1",
            # 19.0 renamed groups_id to group_ids.
            ("group_ids" if odoo.major >= 19 else "groups_id"): [(6, 0, [group])],
        },
    )
    [read] = call("res.users", "read", [user], fields=["share", "partner_id"])
    assert read["share"] is True and read["partner_id"][0] == contact
    [partner] = call("res.partner", "read", [contact], fields=["commercial_partner_id"])
    assert partner["commercial_partner_id"][0] == company


def draft_year() -> int:
    """The year of a move dated today (Odoo's date, the server's clock, as here)."""
    return dt.date.today().year


REAL_FIELDS = json.loads((Path(__file__).parent / "data" / "portal_fields.json").read_text())


@pytest.mark.parametrize(
    "model",
    [
        "project.project",
        "project.task",
        "project.task.type",
        "account.move",
        "account.move.line",
        "blog.blog",
        "blog.post",
        "blog.tag",
    ],
)
def test_the_apps_fields_are_real_odoos(
    odoo: OdooServer, call: Any, installed: None, model: str
) -> None:
    """Every field the server reports for these models, among those recorded from real 17.0
    and 18.0 (``fields_get``: type and relation), is the real one; on the emulator, every
    field it declares exists on real Odoo of its version."""
    recorded = REAL_FIELDS.get(f"{odoo.major}.0", {}).get(model)
    if recorded is None:
        pytest.skip(f"no record of real Odoo {odoo.major}.0")
    answered = call(model, "fields_get", attributes=["type", "relation"])
    for name, (type_, relation) in recorded.items():
        if name in answered:
            assert answered[name]["type"] == type_, name
            assert answered[name].get("relation") == relation, name
    if odoo.is_emulator:
        assert sorted(set(answered) - set(recorded)) == []
