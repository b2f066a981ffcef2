"""ir.module.module: the modules and their state (installing and upgrading are not emulated)."""

from __future__ import annotations

from typing import Any, ClassVar

from odoo_emulator.errors import UserError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import INTERNAL, SYSTEM
from odoo_emulator.orm.model import BaseModel

MODULE_STATES = (
    ("uninstallable", "Uninstallable"),
    ("uninstalled", "Not Installed"),
    ("installed", "Installed"),
    ("to upgrade", "To be upgraded"),
    ("to remove", "To be removed"),
    ("to install", "To be installed"),
)


class Module(BaseModel):
    _name = "ir.module.module"
    _description = "Module"
    _table = "ir_module_module"
    _order = "application desc,sequence,name"
    _rec_name = "shortdesc"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (SYSTEM,),
        "create": (SYSTEM,),
        "unlink": (SYSTEM,),
    }
    _unimplemented_methods = BaseModel._unimplemented_methods | {
        "button_immediate_install",
        "button_immediate_upgrade",
        "button_immediate_uninstall",
        "button_install",
        "button_upgrade",
        "button_uninstall",
        "update_list",
    }
    _field_list = [
        F.char("name", "Technical Name", required=True, readonly=True),
        F.char("shortdesc", "Module Name", readonly=True, translate=True),
        F.char("summary", "Summary", readonly=True, translate=True),
        F.char("author", "Author", readonly=True),
        F.char("website", "Website", readonly=True),
        F.char("license", "License", readonly=True),
        F.selection("state", "Status", MODULE_STATES, readonly=True),
        F.char("latest_version", "Installed Version", readonly=True),
        F.char("installed_version", "Latest Version", store=False, readonly=True),
        F.boolean("application", "Application", readonly=True),
        F.boolean("auto_install", "Automatic Installation", readonly=True),
        F.integer("sequence", "Sequence"),
    ]

    async def compute_installed_version(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT id, latest_version FROM ir_module_module WHERE id = ANY(%s)", (ids,)
        )
        return {i: v or False for i, v in await cur.fetchall()}

    async def before_unlink(self) -> None:
        cur = await self.conn.execute(
            "SELECT 1 FROM ir_module_module WHERE id = ANY(%s) AND state IN"
            " ('installed', 'to upgrade', 'to remove', 'to install')",
            (self.ids,),
        )
        if await cur.fetchone():
            raise UserError(
                "You are trying to remove a module that is installed or will be installed."
            )
