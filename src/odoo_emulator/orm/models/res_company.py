"""res.company: companies, whose name, email and phone are their partner's."""

from __future__ import annotations

from typing import Any, ClassVar

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import ERP_MANAGER, EVERYONE, SYSTEM
from odoo_emulator.orm.model import BaseModel


class Company(BaseModel):
    _name = "res.company"
    _description = "Companies"
    _table = "res_company"
    _order = "sequence, name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (*EVERYONE, SYSTEM),
        "write": (ERP_MANAGER, SYSTEM),
        "create": (ERP_MANAGER, SYSTEM),
        "unlink": (ERP_MANAGER, SYSTEM),
    }
    _defaults: ClassVar[dict[str, Any]] = {"active": True, "sequence": 10, "currency_id": 1}
    _field_list = [
        F.char("name", "Company Name", required=True, related="partner_id.name"),
        F.many2one("partner_id", "Partner", "res.partner", required=True),
        F.many2one("currency_id", "Currency", "res.currency", required=True),
        F.integer("sequence", "Sequence"),
        F.many2one("parent_id", "Parent Company", "res.company"),
        F.one2many("child_ids", "Branches", "res.company", "parent_id"),
        F.char("email", "Email", related="partner_id.email"),
        F.char("phone", "Phone", related="partner_id.phone"),
        F.boolean("active", "Active"),
        F.many2many(
            "user_ids", "Accepted Users", "res.users", "res_company_users_rel", "cid", "user_id"
        ),
    ]
    PARTNER_FIELDS = ("name", "email", "phone")

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        if not vals.get("partner_id"):
            partner_vals = {k: vals[k] for k in self.PARTNER_FIELDS if vals.get(k)}
            partner_vals["is_company"] = True
            [vals["partner_id"]] = await self.env["res.partner"].create_records([partner_vals])
        return vals

    async def after_create(self, record_id: int, vals: dict[str, Any]) -> None:
        # The creator and the superuser may work in the new company, and so join the
        # Multi Companies group (res.company.create; observed on 17.0 and 18.0).
        multi_company = await self.env.ref("base.group_multi_company")
        for uid in {self.env.uid, 1}:
            await self.conn.execute(
                "INSERT INTO res_company_users_rel (cid, user_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (record_id, uid),
            )
            if multi_company:
                await self.conn.execute(
                    "INSERT INTO res_groups_users_rel (gid, uid) VALUES (%s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (multi_company, uid),
                )

    async def _partner_of(self, record_id: int) -> int:
        row = await (
            await self.conn.execute(
                "SELECT partner_id FROM res_company WHERE id = %s", (record_id,)
            )
        ).fetchone()
        assert row is not None
        return int(row[0])

    async def after_write(self, vals: dict[str, Any]) -> None:
        # name, email and phone are related to the partner's.
        partner_vals = {k: vals[k] for k in self.PARTNER_FIELDS if k in vals}
        if partner_vals:
            partner_ids = [await self._partner_of(i) for i in self.ids]
            await self.env["res.partner"].update(partner_ids, partner_vals)
            await self.env["res.partner"].browse(partner_ids).after_write(partner_vals)
