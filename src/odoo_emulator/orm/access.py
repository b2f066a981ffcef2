"""Access rights: which groups may read, write, create or delete a model's records, and
Odoo's AccessError when the user is in none of them (the superuser passes everything)."""

from __future__ import annotations

from typing import ClassVar

from odoo_emulator.errors import AccessError
from odoo_emulator.orm.recordset import RecordSet

# The groups (xml ids) the models' ``_access`` names.
SYSTEM = "base.group_system"
ERP_MANAGER = "base.group_erp_manager"
INTERNAL = "base.group_user"
PARTNER_MANAGER = "base.group_partner_manager"
EVERYONE = (INTERNAL, "base.group_portal", "base.group_public")

OPERATION_VERBS = {"read": "access", "write": "modify", "create": "create", "unlink": "delete"}
GROUP_LABELS = {
    "base.group_system": "Administration/Settings",
    "base.group_erp_manager": "Administration/Access Rights",
    "base.group_user": "User types/Internal User",
    "base.group_partner_manager": "Extra Rights/Contact Creation",
}


class AccessRights(RecordSet):
    """Who may do what on the model: ``_access``, checked by the public methods."""

    # Groups (xml ids, any of) allowed per operation; the superuser passes everything.
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": ("base.group_system",),
        "write": ("base.group_system",),
        "create": ("base.group_system",),
        "unlink": ("base.group_system",),
    }

    async def may_access(self, operation: str) -> bool:
        if self.env.su:
            return True
        groups = await self.env.groups()
        return any(group in groups for group in self._access.get(operation, ()))

    async def require_access(self, operation: str) -> None:
        if await self.may_access(operation):
            return
        allowed = self._access.get(operation, ())
        lines = "\n".join(f"\t- {GROUP_LABELS.get(g, g)}" for g in allowed)
        message = (
            f"You are not allowed to {OPERATION_VERBS[operation]} "
            f"'{self._description}' ({self._name}) records."
        )
        if lines:
            message += f"\n\nThis operation is allowed for the following groups:\n{lines}"
        message += "\n\nContact your administrator to request access if necessary."
        raise AccessError(message)
