"""res.groups: access groups (``Groups19``: 19.0's ``user_ids``)."""

from __future__ import annotations

from typing import Any, ClassVar

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import ERP_MANAGER, INTERNAL, SYSTEM
from odoo_emulator.orm.model import BaseModel
from odoo_emulator.schema import GROUP_FULL_NAMES


class Groups(BaseModel):
    _name = "res.groups"
    _description = "Access Groups"
    _table = "res_groups"
    _order = "name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (ERP_MANAGER, SYSTEM),
        "create": (ERP_MANAGER, SYSTEM),
        "unlink": (ERP_MANAGER, SYSTEM),
    }

    async def display_names(self, ids: Any) -> dict[int, Any]:
        """ "Category / Name", as res.groups' full_name."""
        names = await super().display_names(ids)
        cur = await self.conn.execute(
            "SELECT res_id, module || '.' || name FROM ir_model_data"
            " WHERE model = 'res.groups' AND res_id = ANY(%s)",
            (list(ids),),
        )
        for gid, xmlid in await cur.fetchall():
            if xmlid in GROUP_FULL_NAMES:
                names[gid] = GROUP_FULL_NAMES[xmlid]
        return names

    _field_list = [
        F.char("name", "Name", required=True, translate=True),
        F.many2many("users", "Users", "res.users", "res_groups_users_rel", "gid", "uid"),
        F.boolean("share", "Share Group"),
        F.text("comment", "Comment", translate=True),
    ]


class Groups19(Groups):
    """19.0 renamed ``res.groups.users`` to ``user_ids`` (with ``res.users.group_ids``)."""

    _field_list = [
        F.many2many("user_ids", "Users", "res.users", "res_groups_users_rel", "gid", "uid")
        if fld.name == "users"
        else fld
        for fld in Groups._field_list
    ]
