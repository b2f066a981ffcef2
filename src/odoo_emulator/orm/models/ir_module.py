"""ir.module.module: the modules and their state (installing and upgrading are not emulated)."""

from __future__ import annotations

from typing import Any, ClassVar

from odoo_emulator import addons
from odoo_emulator.errors import UserError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import INTERNAL, SYSTEM
from odoo_emulator.orm.api import api_records
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

    @api_records
    async def button_immediate_install(self) -> dict[str, Any]:
        """Install the modules and their dependencies now (the apps of ``addons.py``; any
        other module's install is not emulated and says so). Answers Odoo's reload action."""
        await self.require_access("write")
        await self.ensure_exist()
        cur = await self.conn.execute(
            "SELECT name FROM ir_module_module WHERE id = ANY(%s) ORDER BY id", (self.ids,)
        )
        names = [row[0] for row in await cur.fetchall()]
        unknown = [n for n in names if n not in addons.DEPENDENCIES and n != "base"]
        if unknown:
            raise UserError(f"The emulator cannot install {', '.join(unknown)}")
        await addons.install(self.conn, names, self.env.version.serie)
        # The new models exist for the calls that follow (Odoo reloads its registry).
        self.env.registry.installed = await addons.installed_modules(self.conn)
        return {"type": "ir.actions.client", "tag": "reload", "params": {"menu_id": False}}
