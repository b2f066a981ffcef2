"""res.currency: currencies."""

from __future__ import annotations

from typing import ClassVar

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import EVERYONE, SYSTEM
from odoo_emulator.orm.model import BaseModel


class Currency(BaseModel):
    _name = "res.currency"
    _description = "Currency"
    _table = "res_currency"
    _order = "active desc, name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (*EVERYONE, SYSTEM),
        "write": (SYSTEM,),
        "create": (SYSTEM,),
        "unlink": (SYSTEM,),
    }
    _field_list = [
        F.char("name", "Currency", required=True),
        F.char("full_name", "Name"),
        F.char("symbol", "Symbol", required=True),
        F.float_("rounding", "Rounding Factor"),
        F.integer("decimal_places", "Decimal Places", readonly=True),
        F.selection(
            "position", "Symbol Position", (("after", "After Amount"), ("before", "Before Amount"))
        ),
        F.boolean("active", "Active"),
    ]
