"""res.partner: contacts and companies (addresses, commercial entity, company type)."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any, ClassVar

from odoo_emulator.errors import RedirectWarning
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import INTERNAL, PARTNER_MANAGER, SYSTEM
from odoo_emulator.orm.api import api_model
from odoo_emulator.orm.model import BaseModel
from odoo_emulator.orm.models.res_lang import installed_languages


@cache
def _timezones() -> tuple[tuple[str, str], ...]:
    return tuple((tz, tz) for tz in sorted(zoneinfo.available_timezones()))


PARTNER_TYPES = (
    ("contact", "Contact"),
    ("invoice", "Invoice Address"),
    ("delivery", "Delivery Address"),
    ("other", "Other Address"),
)


class Partner(BaseModel):
    _name = "res.partner"
    _description = "Contact"
    _table = "res_partner"
    _order = "complete_name ASC, id DESC"
    _rec_name = "complete_name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (PARTNER_MANAGER, SYSTEM),
        "create": (PARTNER_MANAGER, SYSTEM),
        "unlink": (PARTNER_MANAGER, SYSTEM),
    }
    _defaults: ClassVar[dict[str, Any]] = {"active": True, "type": "contact", "is_company": False}
    _field_list = [
        F.char("name", "Name", export_default=True),
        F.char("complete_name", "Complete Name", readonly=True),
        F.char("email", "Email"),
        F.char("email_formatted", "Formatted Email", store=False, readonly=True),
        F.char("phone", "Phone"),
        F.char("street", "Street"),
        F.char("street2", "Street2"),
        F.char("zip", "Zip"),
        F.char("city", "City"),
        F.char("website", "Website Link"),
        F.char("vat", "Tax ID"),
        F.char("ref", "Reference"),
        F.char("function", "Job Position"),
        F.html("comment", "Notes"),
        F.selection("lang", "Language", ()),
        F.selection("tz", "Timezone", ()),
        F.boolean("active", "Active"),
        F.boolean("is_company", "Is a Company"),
        F.selection("type", "Address Type", PARTNER_TYPES),
        F.many2one("parent_id", "Related Company", "res.partner"),
        F.one2many("child_ids", "Contact", "res.partner", "parent_id"),
        F.many2one("company_id", "Company", "res.company"),
        F.one2many("user_ids", "Users", "res.users", "partner_id"),
        F.many2one("commercial_partner_id", "Commercial Entity", "res.partner", readonly=True),
        F.boolean("partner_share", "Share Partner", readonly=True),
    ]

    async def options_lang(self) -> tuple[tuple[str, str], ...]:
        return await installed_languages(self)

    async def options_tz(self) -> tuple[tuple[str, str], ...]:
        return _timezones()

    async def compute_email_formatted(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT id, name, email FROM res_partner WHERE id = ANY(%s)", (ids,)
        )
        result: dict[int, Any] = {}
        for record_id, name, email in await cur.fetchall():
            result[record_id] = f'"{name or "False"}" <{email}>' if email else False
        return result

    async def default_values(self) -> dict[str, Any]:
        values = await super().default_values()
        # The context's language and time zone, else English and none (observed defaults).
        installed = [code for code, _ in await self.options_lang()]
        lang = self.env.context.get("lang")
        values["lang"] = lang if lang in installed else "en_US"
        values["tz"] = self.env.context.get("tz") or False
        return values

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        # A contact without an internal user is a "share" partner (recomputed for users).
        vals.setdefault("partner_share", True)
        return vals

    async def after_create(self, record_id: int, vals: dict[str, Any]) -> None:
        await self.recompute_names([record_id])

    async def after_write(self, vals: dict[str, Any]) -> None:
        if {"name", "parent_id", "is_company", "type"} & vals.keys():
            await self.recompute_names(self.ids)

    async def recompute_names(self, ids: list[int]) -> None:
        """``complete_name`` ("Company, Contact") and ``commercial_partner_id``, for the
        records and their descendants."""
        cur = await self.conn.execute(
            "WITH RECURSIVE tree(id) AS (SELECT id FROM res_partner WHERE id = ANY(%s)"
            " UNION SELECT c.id FROM res_partner c JOIN tree ON c.parent_id = tree.id)"
            " SELECT id FROM tree",
            (ids,),
        )
        for (record_id,) in await cur.fetchall():
            commercial = await self._commercial_partner(record_id)
            row = await (
                await self.conn.execute(
                    "SELECT p.name, p.is_company, p.type, p.parent_id, c.name, c.is_company"
                    " FROM res_partner p LEFT JOIN res_partner c ON c.id = %s"
                    " WHERE p.id = %s",
                    (commercial, record_id),
                )
            ).fetchone()
            assert row is not None
            name, is_company, partner_type, parent_id, commercial_name, commercial_is_co = row
            complete = name or ""
            if parent_id:
                if not complete and partner_type in ("invoice", "delivery", "other"):
                    complete = dict(PARTNER_TYPES)[partner_type]
                if not is_company:
                    prefix = commercial_name if commercial_is_co else None
                    if prefix is None:
                        parent = await (
                            await self.conn.execute(
                                "SELECT name FROM res_partner WHERE id = %s", (parent_id,)
                            )
                        ).fetchone()
                        prefix = parent[0] if parent else ""
                    complete = f"{prefix}, {complete}"
            await self.conn.execute(
                "UPDATE res_partner SET complete_name = %s, commercial_partner_id = %s"
                " WHERE id = %s",
                (complete.strip(), commercial, record_id),
            )

    async def _commercial_partner(self, record_id: int) -> int:
        current = record_id
        seen = set()
        while current not in seen:
            seen.add(current)
            row = await (
                await self.conn.execute(
                    "SELECT is_company, parent_id FROM res_partner WHERE id = %s", (current,)
                )
            ).fetchone()
            if row is None or row[0] or not row[1]:
                return current
            current = row[1]
        return record_id

    async def name_search_ids(
        self, name: str, domain: Any, operator: str, limit: int | None
    ) -> list[int]:
        # _rec_names_search: complete_name, email, ref, vat.
        if not (name or "").strip() and operator == "ilike":
            return await self.search_ids(list(domain or []), limit=limit)
        name_domain = [
            "|",
            "|",
            "|",
            ("complete_name", operator, name),
            ("email", operator, name),
            ("ref", operator, name),
            ("vat", operator, name),
        ]
        return await self.search_ids([*name_domain, *(domain or [])], limit=limit)

    @api_model
    async def name_create(self, name: str) -> list[Any]:
        await self.require_access("create")
        vals: dict[str, Any] = {"name": name}
        if "<" in name and name.rstrip().endswith(">"):
            # "Name <email>" gives both (res.partner.name_create).
            display, _, email = name.rstrip()[:-1].rpartition("<")
            vals = {"name": display.strip().strip('"') or email.strip(), "email": email.strip()}
        [new_id] = await self.create_records([vals])
        display_names = await self.display_names([new_id])
        return [new_id, display_names.get(new_id, False)]

    async def before_unlink(self) -> None:
        cur = await self.conn.execute(
            "SELECT u.login, p.name FROM res_users u JOIN res_partner p ON p.id = u.partner_id"
            " WHERE u.partner_id = ANY(%s) AND u.active",
            (self.ids,),
        )
        users = await cur.fetchall()
        if users:
            names = ", ".join(name for _login, name in users)
            cur = await self.conn.execute(
                "SELECT id FROM res_users WHERE partner_id = ANY(%s) AND active ORDER BY id",
                (self.ids,),
            )
            user_ids = [row[0] for row in await cur.fetchall()]
            action: dict[str, Any] = {
                "type": "ir.actions.act_window",
                "res_model": "res.users",
                "context": {"create": False},
            }
            if len(user_ids) == 1:
                action |= {"view_mode": "form", "views": [[False, "form"]], "res_id": user_ids[0]}
            else:
                action |= {
                    "view_mode": "list,form",
                    "views": [[False, "list"], [False, "form"]],
                    "domain": [["id", "in", user_ids]],
                }
            # Observed on 17.0 and 18.0: a RedirectWarning (message, action, button, context).
            raise RedirectWarning(
                "You cannot delete contacts linked to an active user.\n"
                "You should rather archive them after archiving their associated user.\n\n"
                f"Linked active users : {names}",
                action,
                "Go to users",
                None,
            )

    def copy_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "name": f"{values.get('name') or ''} (copy)"}
