"""res.users: users, their partner's fields through ``_inherits``, passwords, groups
(``Users19``: 19.0's ``group_ids``)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from odoo_emulator import passwords
from odoo_emulator.errors import AccessDenied, UserError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import ERP_MANAGER, INTERNAL, PARTNER_MANAGER, SYSTEM
from odoo_emulator.orm.api import api_by_version, api_model, api_records
from odoo_emulator.orm.model import BaseModel
from odoo_emulator.orm.models.res_lang import installed_languages
from odoo_emulator.orm.models.res_partner import Partner
from odoo_emulator.schema import computed_signature

USER_INVALIDATION_FIELDS = {"groups_id", "group_ids", "active", "lang", "tz", "company_id"}
USER_SELF_WRITEABLE = {"signature", "lang", "tz", "email", "name", "password", "phone"}
# New users get the default user template's groups (observed on 17.0 and 18.0).
DEFAULT_USER_GROUPS = (
    INTERNAL,
    "base.group_no_one",
    "base.group_allow_export",
    PARTNER_MANAGER,
)


def _delegated(fld: F.Field) -> F.Field:
    """A res.partner field as res.users sees it through ``_inherits``."""
    return F.Field(
        fld.name,
        fld.type,
        fld.string,
        store=False,
        relation=fld.relation,
        selection=fld.selection,
        delegated_through="partner_id",
    )


_PARTNER_FIELDS = {fld.name: fld for fld in Partner._field_list}
_USER_DELEGATED = [
    _delegated(_PARTNER_FIELDS[name])
    for name in (
        "name",
        "email",
        "phone",
        "street",
        "street2",
        "zip",
        "city",
        "website",
        "vat",
        "ref",
        "function",
        "comment",
        "lang",
        "tz",
        "is_company",
        "parent_id",
    )
]


class Users(BaseModel):
    _name = "res.users"
    _description = "User"
    _table = "res_users"
    _order = "name, login"
    _rec_name = "name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (ERP_MANAGER, SYSTEM),
        "create": (ERP_MANAGER, SYSTEM),
        "unlink": (ERP_MANAGER, SYSTEM),
    }
    _defaults: ClassVar[dict[str, Any]] = {"active": True}
    _private_methods = BaseModel._private_methods | {
        "_login",
        "_check_credentials",
        "_compute_session_token",
        "_set_password",
        "_crypt_context",
        "_update_last_login",
        "_default_groups",
        "_is_admin",
        "_is_system",
        "_is_internal",
        "_is_public",
        "_has_group",
    }
    _unimplemented_methods = BaseModel._unimplemented_methods | {
        "preference_save",
        "preference_change_password",
        "action_get",
        "action_reset_password",
        "action_show_groups",
    }
    GROUPS_FIELD = "groups_id"
    _field_list = [
        F.many2one("partner_id", "Related Partner", "res.partner", required=True),
        F.char("login", "Login", required=True),
        F.char("password", "Password", store=False),
        F.boolean("active", "Active"),
        F.many2one("company_id", "Company", "res.company", required=True),
        F.many2many(
            "company_ids", "Companies", "res.company", "res_company_users_rel", "user_id", "cid"
        ),
        F.many2many(GROUPS_FIELD, "Groups", "res.groups", "res_groups_users_rel", "uid", "gid"),
        F.boolean("share", "Share User", readonly=True),
        F.datetime("login_date", "Latest authentication", store=False, readonly=True),
        F.html("signature", "Email Signature"),
        *_USER_DELEGATED,
    ]

    @property
    def groups_field(self) -> str:
        return type(self).GROUPS_FIELD

    # -- fields -------------------------------------------------------------------------------

    async def compute_password(self, ids: list[int]) -> dict[int, Any]:
        return dict.fromkeys(ids, "")  # never readable (res.users._compute_password)

    async def compute_login_date(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT create_uid, max(create_date) FROM res_users_log"
            " WHERE create_uid = ANY(%s) GROUP BY create_uid",
            (ids,),
        )
        fld = self._fields["login_date"]
        return {uid: F.to_read_value(fld, stamp) for uid, stamp in await cur.fetchall()}

    async def inverse_password(self, value: Any) -> None:
        if not value:
            return  # empty passwords are ignored, as the web client's blanks are
        hashed = await asyncio.to_thread(passwords.hash_password, str(value))
        await self.conn.execute(
            "UPDATE res_users SET password = %s WHERE id = ANY(%s)", (hashed, self.ids)
        )
        self.env.registry.clear_cache()

    # -- searching ------------------------------------------------------------------------------

    async def name_search_ids(
        self, name: str, domain: Any, operator: str, limit: int | None
    ) -> list[int]:
        # res.users._name_search: an exact login first, then names.
        ids: list[int] = []
        if not operator.startswith("not") and operator != "!=":
            name_domain = (
                [] if operator == "ilike" and not (name or "").strip() else [("login", "=", name)]
            )
            ids = await self.search_ids([*name_domain, *(domain or [])], limit=limit)
        if not ids:
            ids = await self.search_ids([("name", operator, name), *(domain or [])], limit=limit)
        return ids

    # -- access ---------------------------------------------------------------------------------

    async def require_access(self, operation: str) -> None:
        # Users may always read themselves (SELF_READABLE_FIELDS, simplified).
        if operation == "read" and self.ids == [self.env.uid]:
            return
        await super().require_access(operation)

    @api_records
    async def write(self, vals: dict[str, Any]) -> bool:
        if (
            isinstance(vals, dict)
            and self.ids == [self.env.uid]
            and set(vals) <= USER_SELF_WRITEABLE
        ):
            # Own preferences are written as superuser (res.users.write).
            return await BaseModel.write(self.sudo(), vals)
        return await BaseModel.write(self, vals)

    # -- writing --------------------------------------------------------------------------------

    async def default_values(self) -> dict[str, Any]:
        values = await super().default_values()
        company = await self._current_company()
        installed = [code for code, _ in await installed_languages(self)]
        lang = self.env.context.get("lang")
        values |= {
            "company_id": company,
            "company_ids": [(6, 0, [company])],
            "lang": lang if lang in installed else "en_US",
            "tz": self.env.context.get("tz") or False,
        }
        return values

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        if not vals.get("signature") and vals.get("name"):
            vals["signature"] = computed_signature(str(vals["name"]))
        if not vals.get("partner_id") and "name" not in vals:
            vals["name"] = None  # the partner's "Contacts require a name" check answers
        if not vals.get("company_id"):
            vals["company_id"] = await self._current_company()
        if self.groups_field not in vals:
            group_ids = [await self.env.ref(g) for g in DEFAULT_USER_GROUPS]
            vals[self.groups_field] = [(6, 0, [g for g in group_ids if g])]
        if "company_ids" not in vals:
            vals["company_ids"] = [(6, 0, [vals["company_id"]])]
        return vals

    async def _current_company(self) -> int:
        row = await (
            await self.conn.execute(
                "SELECT company_id FROM res_users WHERE id = %s", (self.env.uid,)
            )
        ).fetchone()
        return int(row[0]) if row and row[0] else 1

    async def after_create(self, record_id: int, vals: dict[str, Any]) -> None:
        await self.conn.execute(
            "UPDATE res_partner SET active = u.active FROM res_users u"
            " WHERE u.id = %s AND res_partner.id = u.partner_id",
            (record_id,),
        )
        await self.recompute_share([record_id])

    async def recompute_share(self, ids: list[int]) -> None:
        internal = await self.env.ref(INTERNAL)
        await self.conn.execute(
            "UPDATE res_users SET share = NOT EXISTS (SELECT 1 FROM res_groups_users_rel r"
            " WHERE r.uid = res_users.id AND r.gid = %s) WHERE id = ANY(%s)",
            (internal, ids),
        )
        await self.conn.execute(
            "UPDATE res_partner SET partner_share = NOT EXISTS (SELECT 1 FROM res_users u"
            " WHERE u.partner_id = res_partner.id AND NOT u.share)"
            " WHERE id IN (SELECT partner_id FROM res_users WHERE id = ANY(%s))",
            (ids,),
        )

    async def before_write(self, vals: dict[str, Any]) -> None:
        if vals.get("active") and 1 in self.ids:
            raise UserError("You cannot activate the superuser.")
        if vals.get("active") is False and self.env.uid in self.ids:
            raise UserError("You cannot deactivate the user you're currently logged in as.")
        if vals.get("active"):
            # Re-activating a user re-activates its archived partner.
            await self.conn.execute(
                "UPDATE res_partner SET active = TRUE WHERE id IN"
                " (SELECT partner_id FROM res_users WHERE id = ANY(%s))",
                (self.ids,),
            )

    async def after_write(self, vals: dict[str, Any]) -> None:
        if self.groups_field in vals:
            await self.recompute_share(self.ids)
        if {"name", "is_company", "parent_id"} & vals.keys():
            partner_ids = await self._partner_ids()
            await self.env["res.partner"].browse(partner_ids).after_write(vals)
        if (USER_INVALIDATION_FIELDS | {"login", "password"}) & vals.keys():
            # Odoo clears the registry cache, credentials included (section 11.2).
            self.env.registry.clear_cache()

    async def _partner_ids(self) -> list[int]:
        cur = await self.conn.execute(
            "SELECT partner_id FROM res_users WHERE id = ANY(%s)", (self.ids,)
        )
        return [row[0] for row in await cur.fetchall()]

    async def before_unlink(self) -> None:
        if 1 in self.ids:
            raise UserError(
                "You can not remove the admin user as it is used internally for resources "
                "created by Odoo (updates, module installation, ...)"
            )
        admin = await self.env.ref("base.user_admin")
        if admin in self.ids:
            raise UserError(
                "You cannot delete the admin user because it is utilized in various places "
                "(such as security configurations,...). Instead, archive it."
            )
        templates = {
            await self.env.ref("base.default_user"),
            await self.env.ref("base.template_portal_user_id"),
        }
        if templates & set(self.ids):
            raise UserError(
                "Deleting the template users is not allowed. Deleting this profile will "
                "compromise critical functionalities."
            )
        self.env.registry.clear_cache()

    def copy_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        # A copy gets its own partner and login (res.users.copy).
        values = {k: v for k, v in values.items() if k != "partner_id"}
        return {
            **values,
            "name": f"{values.get('name') or ''} (copy)",
            "login": f"{values.get('login') or ''} (copy)",
        }

    # -- public methods -------------------------------------------------------------------------

    @api_model
    async def context_get(self) -> dict[str, Any]:
        """``{lang, tz, uid}`` of the calling user; the language falls back to an installed
        one (res.users.context_get)."""
        row = await (
            await self.conn.execute(
                "SELECT p.lang, p.tz, cp.lang FROM res_users u"
                " JOIN res_partner p ON p.id = u.partner_id"
                " LEFT JOIN res_company c ON c.id = u.company_id"
                " LEFT JOIN res_partner cp ON cp.id = c.partner_id WHERE u.id = %s",
                (self.env.uid,),
            )
        ).fetchone()
        lang, tz, company_lang = row if row else (None, None, None)
        installed = [code for code, _ in await installed_languages(self)]
        for candidate in (lang, company_lang, "en_US"):
            if candidate in installed:
                lang = candidate
                break
        else:
            lang = installed[0] if installed else "en_US"
        return {"lang": lang, "tz": tz or False, "uid": self.env.uid}

    @api_by_version(lambda version: "records" if version.has_group_on_records else "model")
    async def has_group(self, group_ext_id: str) -> bool:
        """Whether the user (the record from 18.0, the caller on 17.0) is in the group."""
        if "." not in (group_ext_id or ""):
            raise ValueError(f"External ID '{group_ext_id}' must be fully qualified")
        uid = self.ids[0] if self.ids else self.env.uid
        return group_ext_id in await self.env.with_user(uid).groups()

    @api_model
    async def change_password(self, old_passwd: str, new_passwd: str) -> bool:
        if not old_passwd:
            raise AccessDenied()
        row = await (
            await self.conn.execute(
                "SELECT COALESCE(password, '') FROM res_users WHERE id = %s", (self.env.uid,)
            )
        ).fetchone()
        stored = row[0] if row else ""
        if not await asyncio.to_thread(passwords.verify, old_passwd, stored):
            raise AccessDenied()
        if not (new_passwd or "").strip():
            raise UserError("Setting empty passwords is not allowed for security reasons!")
        own: Any = self.sudo().browse([self.env.uid])
        await own.inverse_password(new_passwd.strip())
        return True


class Users19(Users):
    """19.0 renamed ``groups_id`` to ``group_ids``."""

    GROUPS_FIELD = "group_ids"
    _field_list = [
        F.many2many("group_ids", "Groups", "res.groups", "res_groups_users_rel", "uid", "gid")
        if fld.name == "groups_id"
        else fld
        for fld in Users._field_list
    ]
