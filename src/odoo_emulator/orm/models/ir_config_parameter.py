"""ir.config_parameter: system parameters (``get_param`` / ``set_param``)."""

from __future__ import annotations

from typing import Any

from odoo_emulator.errors import ValidationError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.api import api_model
from odoo_emulator.orm.model import BaseModel

# ir.config_parameter defaults (ir_config_parameter.py ``_default_parameters``, section 5).
DEFAULT_PARAMETERS = (
    "database.secret",
    "database.uuid",
    "database.create_date",
    "web.base.url",
    "base.login_cooldown_after",
    "base.login_cooldown_duration",
)


class IrConfigParameter(BaseModel):
    _name = "ir.config_parameter"
    _description = "System Parameter"
    _table = "ir_config_parameter"
    _order = "key"
    _rec_name = "key"
    _private_methods = BaseModel._private_methods | {"_get_param"}
    _field_list = [
        F.char("key", "Key", required=True),
        F.text("value", "Value", required=True),
    ]

    async def create_records(self, vals_list: list[dict[str, Any]]) -> list[int]:
        self.env.registry.clear_cache()
        return await super().create_records(vals_list)

    async def before_write(self, vals: dict[str, Any]) -> None:
        if "key" in vals:
            keys = await self._keys()
            illegal = sorted(set(DEFAULT_PARAMETERS) & set(keys))
            if illegal:
                raise ValidationError(
                    f"You cannot rename config parameters with keys {', '.join(illegal)}"
                )
        self.env.registry.clear_cache()

    async def _keys(self) -> list[str]:
        cur = await self.conn.execute(
            "SELECT key FROM ir_config_parameter WHERE id = ANY(%s)", (self.ids,)
        )
        return [row[0] for row in await cur.fetchall()]

    async def before_unlink(self) -> None:
        # All six defaults, web.base.url included: 17.0-20240709 refuses it as 18.0 does
        # (section 11.1 reads as if only 18.0 did; the real 17.0 server says otherwise).
        for key in await self._keys():
            if key in DEFAULT_PARAMETERS:
                raise ValidationError(f"You cannot delete the {key} record.")
        self.env.registry.clear_cache()

    @api_model
    async def get_param(self, key: str, default: Any = False) -> Any:
        await self.require_access("read")
        return await self.raw_get(key) or default

    async def raw_get(self, key: str) -> str | None:
        row = await (
            await self.conn.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
        ).fetchone()
        return row[0] if row else None

    @api_model
    async def set_param(self, key: str, value: Any) -> Any:
        """The old value (or False); False/None deletes the parameter."""
        await self.require_access("read")
        ids = await self.search_ids([("key", "=", key)])
        if ids:
            param = self.browse(ids)
            [old] = [r["value"] for r in await param.read_records(ids, ["value"])]
            if value is not False and value is not None:
                if str(value) != old:
                    await param.write({"value": value})
            else:
                await param.unlink()
            return old
        if value is not False and value is not None:
            await self.create([{"key": key, "value": value}])
        return False
