"""The optional Odoo apps the emulator can install: their tables, and what installing adds.

A real server knows every module of its addons path (``ir.module.module``, state
``uninstalled``) and creates a module's tables and models only when it is installed; until
then its models do not exist ("Object project.project doesn't exist"). The emulator does
the same for the apps a client portal reads: ``project`` (projects, tasks, stages),
``account`` (Invoicing: customer invoices and their lines) and ``website_blog`` (blogs,
posts, tags), with the dependencies that matter to a client (``mail``, ``portal``,
``website``...), which are marked installed and add no model here.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

# Module -> the modules it depends on that the emulator lists (installed with it).
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "mail": (),
    "portal": ("mail",),
    "analytic": ("mail",),
    "resource": (),
    "rating": ("mail",),
    "product": ("mail",),
    "website": ("portal", "mail"),
    "project": ("mail", "portal", "resource", "analytic", "rating"),
    "account": ("product", "analytic", "portal", "mail"),
    "website_blog": ("website", "portal", "mail"),
}
APPLICATIONS = frozenset({"project", "account", "website_blog", "website"})
SHORT_NAMES = {
    "project": "Project",
    "account": "Invoicing",
    "website_blog": "Blog",
    "website": "Website",
    "mail": "Discuss",
    "portal": "Customer Portal",
    "analytic": "Analytic Accounting",
    "resource": "Resource",
    "rating": "Customer Rating",
    "product": "Products & Pricelists",
}

_STAMPS = "create_uid integer, create_date timestamp, write_uid integer, write_date timestamp"

DDL: dict[str, str] = {
    "project": f"""
CREATE TABLE IF NOT EXISTS project_task_type (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    description jsonb,
    sequence integer,
    fold boolean,
    active boolean,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS project_project_stage (
    id serial PRIMARY KEY,
    active boolean,
    sequence integer,
    name jsonb NOT NULL,
    fold boolean,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS project_project (
    id serial PRIMARY KEY,
    stage_id integer REFERENCES project_project_stage ON DELETE RESTRICT,
    name jsonb NOT NULL,
    description text,
    active boolean,
    sequence integer,
    partner_id integer REFERENCES res_partner ON DELETE SET NULL,
    company_id integer REFERENCES res_company ON DELETE SET NULL,
    user_id integer REFERENCES res_users ON DELETE SET NULL,
    date_start date,
    date date,
    privacy_visibility varchar NOT NULL DEFAULT 'portal',
    last_update_status varchar NOT NULL DEFAULT 'to_define',
    color integer,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS project_task_type_rel (
    type_id integer NOT NULL REFERENCES project_task_type ON DELETE CASCADE,
    project_id integer NOT NULL REFERENCES project_project ON DELETE CASCADE,
    PRIMARY KEY (type_id, project_id)
);
CREATE TABLE IF NOT EXISTS project_task (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    description text,
    active boolean,
    sequence integer,
    priority varchar,
    state varchar NOT NULL DEFAULT '01_in_progress',
    project_id integer REFERENCES project_project ON DELETE SET NULL,
    stage_id integer REFERENCES project_task_type ON DELETE SET NULL,
    partner_id integer REFERENCES res_partner ON DELETE SET NULL,
    company_id integer REFERENCES res_company ON DELETE SET NULL,
    parent_id integer REFERENCES project_task ON DELETE CASCADE,
    date_deadline timestamp,
    date_end timestamp,
    date_last_stage_update timestamp,
    {_STAMPS}
);
CREATE INDEX IF NOT EXISTS project_task_project_id_index ON project_task (project_id);
CREATE TABLE IF NOT EXISTS project_task_user_rel (
    task_id integer NOT NULL REFERENCES project_task ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES res_users ON DELETE CASCADE,
    PRIMARY KEY (task_id, user_id)
);
""",
    "account": f"""
CREATE TABLE IF NOT EXISTS account_move (
    id serial PRIMARY KEY,
    name varchar,
    ref varchar,
    move_type varchar NOT NULL,
    state varchar NOT NULL,
    partner_id integer REFERENCES res_partner ON DELETE RESTRICT,
    commercial_partner_id integer REFERENCES res_partner ON DELETE SET NULL,
    company_id integer REFERENCES res_company ON DELETE RESTRICT,
    currency_id integer REFERENCES res_currency ON DELETE RESTRICT,
    date date NOT NULL,
    invoice_date date,
    invoice_date_due date,
    invoice_origin varchar,
    amount_untaxed numeric,
    amount_tax numeric,
    amount_total numeric,
    amount_residual numeric,
    payment_state varchar,
    {_STAMPS}
);
CREATE INDEX IF NOT EXISTS account_move_partner_id_index ON account_move (partner_id);
CREATE TABLE IF NOT EXISTS account_move_line (
    id serial PRIMARY KEY,
    move_id integer NOT NULL REFERENCES account_move ON DELETE CASCADE,
    currency_id integer REFERENCES res_currency ON DELETE RESTRICT,
    name varchar,
    display_type varchar,
    quantity numeric,
    price_unit numeric,
    price_subtotal numeric,
    price_total numeric,
    sequence integer,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS account_payment_register (
    id serial PRIMARY KEY,
    payment_date date,
    amount numeric,
    communication varchar,
    emulated_move_ids varchar,
    {_STAMPS}
);
""",
    "website_blog": f"""
CREATE TABLE IF NOT EXISTS blog_blog (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    subtitle jsonb,
    active boolean,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS blog_tag (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS blog_post (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    subtitle jsonb,
    content jsonb,
    teaser_manual jsonb,
    blog_id integer NOT NULL REFERENCES blog_blog ON DELETE CASCADE,
    author_id integer REFERENCES res_partner ON DELETE SET NULL,
    active boolean,
    is_published boolean,
    published_date timestamp,
    post_date timestamp,
    visits integer,
    {_STAMPS}
);
CREATE TABLE IF NOT EXISTS blog_post_blog_tag_rel (
    blog_post_id integer NOT NULL REFERENCES blog_post ON DELETE CASCADE,
    blog_tag_id integer NOT NULL REFERENCES blog_tag ON DELETE CASCADE,
    PRIMARY KEY (blog_post_id, blog_tag_id)
);
""",
}


def with_dependencies(names: list[str]) -> list[str]:
    """``names`` and what they depend on, dependencies first."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dependency in DEPENDENCIES.get(name, ()):
            visit(dependency)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


async def list_modules(conn: psycopg.AsyncConnection[Any], version_label: str) -> None:
    """``update_list``: the installable apps, ``uninstalled`` unless listed already."""
    for sequence, name in enumerate(DEPENDENCIES, 100):
        await conn.execute(
            "INSERT INTO ir_module_module (name, shortdesc, author, website, license, state,"
            " latest_version, application, auto_install, sequence, create_uid, create_date,"
            " write_uid, write_date) VALUES (%s, %s, 'Odoo S.A.', 'https://www.odoo.com',"
            " 'LGPL-3', 'uninstalled', NULL, %s, false, %s, 1, now() at time zone 'utc', 1,"
            " now() at time zone 'utc') ON CONFLICT (name) DO NOTHING",
            (name, Jsonb({"en_US": SHORT_NAMES.get(name, name)}), name in APPLICATIONS, sequence),
        )


# The groups a module adds (xml id in the module, name), members none: a setting adds them.
GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "project": (("group_project_stages", "Use Stages on Project"),),
}


async def _add_group(
    conn: psycopg.AsyncConnection[Any], module: str, xmlid: str, name: str
) -> None:
    cur = await conn.execute(
        "INSERT INTO res_groups (name, share, create_uid, create_date, write_uid, write_date)"
        " VALUES (%s, false, 1, now() at time zone 'utc', 1, now() at time zone 'utc')"
        " RETURNING id",
        (Jsonb({"en_US": name}),),
    )
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(
        "INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_date,"
        " write_date) VALUES (%s, %s, 'res.groups', %s, false, now() at time zone 'utc',"
        " now() at time zone 'utc')",
        (module, xmlid, row[0]),
    )


async def installed_modules(conn: psycopg.AsyncConnection[Any]) -> frozenset[str]:
    cur = await conn.execute("SELECT name FROM ir_module_module WHERE state = 'installed'")
    return frozenset(row[0] for row in await cur.fetchall())


async def install(conn: psycopg.AsyncConnection[Any], names: list[str], version: str) -> list[str]:
    """Create the tables of ``names`` and their dependencies and mark them installed; the
    modules newly installed, in order. Installing an installed module changes nothing."""
    installed = await installed_modules(conn)
    done: list[str] = []
    for name in with_dependencies(names):
        if name in installed:
            continue
        if name in DDL:
            await conn.execute(DDL[name])
        for xmlid, group_name in GROUPS.get(name, ()):
            await _add_group(conn, name, xmlid, group_name)
        await conn.execute(
            "UPDATE ir_module_module SET state = 'installed', latest_version = %s,"
            " write_date = now() at time zone 'utc' WHERE name = %s",
            (f"{version}.1.0", name),
        )
        done.append(name)
    return done
