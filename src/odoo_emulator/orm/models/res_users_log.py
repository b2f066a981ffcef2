"""res.users.log: one row per successful login (``res.users._update_last_login``).

Odoo keeps it for ``login_date``; hosting platforms read it as the database's login record.
Readable by administrators (Settings), as in Odoo; written only by the login itself."""

from __future__ import annotations

from typing import ClassVar

from odoo_emulator.orm.access import SYSTEM
from odoo_emulator.orm.fields import Field
from odoo_emulator.orm.model import BaseModel


class UsersLog(BaseModel):
    _name = "res.users.log"
    _description = "Users Log"
    _table = "res_users_log"
    _order = "id desc"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (SYSTEM,),
        "write": (SYSTEM,),
        "create": (SYSTEM,),
        "unlink": (SYSTEM,),
    }
    _field_list: ClassVar[list[Field]] = []  # only the log-access fields (who, when)
