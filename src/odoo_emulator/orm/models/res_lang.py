"""res.lang: languages."""

from __future__ import annotations

from typing import ClassVar

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import EVERYONE, SYSTEM
from odoo_emulator.orm.model import BaseModel


async def installed_languages(model: BaseModel) -> tuple[tuple[str, str], ...]:
    """The active languages, as (code, name) pairs (Odoo's ``res.lang.get_installed``)."""
    cur = await model.conn.execute("SELECT code, name FROM res_lang WHERE active ORDER BY name")
    return tuple((code, name) for code, name in await cur.fetchall())


class Lang(BaseModel):
    _name = "res.lang"
    _description = "Languages"
    _table = "res_lang"
    _order = "active desc,name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (*EVERYONE, SYSTEM),
        "write": (SYSTEM,),
        "create": (SYSTEM,),
        "unlink": (SYSTEM,),
    }
    _field_list = [
        F.char("name", "Name", required=True),
        F.char("code", "Locale Code", required=True),
        F.char("iso_code", "ISO code"),
        F.char("url_code", "URL Code", required=True),
        F.boolean("active", "Active"),
        F.selection("direction", "Direction", (("ltr", "Left-to-Right"), ("rtl", "Right-to-Left"))),
        F.char("date_format", "Date Format", required=True),
        F.char("time_format", "Time Format", required=True),
        F.char("decimal_point", "Decimal Separator", required=True),
        F.char("thousands_sep", "Thousands Separator"),
        F.char("grouping", "Separator Format", required=True),
    ]
