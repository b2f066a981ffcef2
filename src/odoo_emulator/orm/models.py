"""The models the emulator serves, on the tables ``schema.py`` creates.

They are the models a hosting platform and common Odoo clients touch (res.users, res.company,
res.partner, ir.config_parameter; ir.module.module, ir.attachment, res.groups, res.lang,
res.currency besides), with Odoo's own table and column names, so that a database restored from
a real Odoo dump is served too. Anything else is "Object m doesn't exist", which is what a real
server answers for a module that is not installed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
import zoneinfo
from functools import cache
from typing import Any, ClassVar

from odoo_emulator import filestore, passwords
from odoo_emulator.errors import (
    AccessDenied,
    RedirectWarning,
    UserError,
    ValidationError,
)
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.domain import mentions_field
from odoo_emulator.orm.model import BaseModel, api_by_version, api_model, api_records
from odoo_emulator.schema import GROUP_FULL_NAMES, computed_signature
from odoo_emulator.versions import OdooVersion

SYSTEM = "base.group_system"
ERP_MANAGER = "base.group_erp_manager"
INTERNAL = "base.group_user"
PARTNER_MANAGER = "base.group_partner_manager"
EVERYONE = (INTERNAL, "base.group_portal", "base.group_public")


@cache
def _timezones() -> tuple[tuple[str, str], ...]:
    return tuple((tz, tz) for tz in sorted(zoneinfo.available_timezones()))


async def _installed_languages(model: BaseModel) -> tuple[tuple[str, str], ...]:
    cur = await model.conn.execute("SELECT code, name FROM res_lang WHERE active ORDER BY name")
    return tuple((code, name) for code, name in await cur.fetchall())


PARTNER_TYPES = (
    ("contact", "Contact"),
    ("invoice", "Invoice Address"),
    ("delivery", "Delivery Address"),
    ("other", "Other Address"),
)


class Partner(BaseModel):
    _name = "res.partner"
    _description = "Contact"
    _table = "res_partner"
    _order = "complete_name ASC, id DESC"
    _rec_name = "complete_name"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (PARTNER_MANAGER, SYSTEM),
        "create": (PARTNER_MANAGER, SYSTEM),
        "unlink": (PARTNER_MANAGER, SYSTEM),
    }
    _defaults: ClassVar[dict[str, Any]] = {"active": True, "type": "contact", "is_company": False}
    _field_list = [
        F.char("name", "Name", export_default=True),
        F.char("complete_name", "Complete Name", readonly=True),
        F.char("email", "Email"),
        F.char("email_formatted", "Formatted Email", store=False, readonly=True),
        F.char("phone", "Phone"),
        F.char("street", "Street"),
        F.char("street2", "Street2"),
        F.char("zip", "Zip"),
        F.char("city", "City"),
        F.char("website", "Website Link"),
        F.char("vat", "Tax ID"),
        F.char("ref", "Reference"),
        F.char("function", "Job Position"),
        F.html("comment", "Notes"),
        F.selection("lang", "Language", ()),
        F.selection("tz", "Timezone", ()),
        F.boolean("active", "Active"),
        F.boolean("is_company", "Is a Company"),
        F.selection("type", "Address Type", PARTNER_TYPES),
        F.many2one("parent_id", "Related Company", "res.partner"),
        F.one2many("child_ids", "Contact", "res.partner", "parent_id"),
        F.many2one("company_id", "Company", "res.company"),
        F.one2many("user_ids", "Users", "res.users", "partner_id"),
        F.many2one("commercial_partner_id", "Commercial Entity", "res.partner", readonly=True),
        F.boolean("partner_share", "Share Partner", readonly=True),
    ]

    async def options_lang(self) -> tuple[tuple[str, str], ...]:
        return await _installed_languages(self)

    async def options_tz(self) -> tuple[tuple[str, str], ...]:
        return _timezones()

    async def compute_email_formatted(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT id, name, email FROM res_partner WHERE id = ANY(%s)", (ids,)
        )
        result: dict[int, Any] = {}
        for record_id, name, email in await cur.fetchall():
            result[record_id] = f'"{name or "False"}" <{email}>' if email else False
        return result

    async def default_values(self) -> dict[str, Any]:
        values = await super().default_values()
        # The context's language and time zone, else English and none (observed defaults).
        installed = [code for code, _ in await self.options_lang()]
        lang = self.env.context.get("lang")
        values["lang"] = lang if lang in installed else "en_US"
        values["tz"] = self.env.context.get("tz") or False
        return values

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        # A contact without an internal user is a "share" partner (recomputed for users).
        vals.setdefault("partner_share", True)
        return vals

    async def after_create(self, record_id: int, vals: dict[str, Any]) -> None:
        await self.recompute_names([record_id])

    async def after_write(self, vals: dict[str, Any]) -> None:
        if {"name", "parent_id", "is_company", "type"} & vals.keys():
            await self.recompute_names(self.ids)

    async def recompute_names(self, ids: list[int]) -> None:
        """``complete_name`` ("Company, Contact") and ``commercial_partner_id``, for the
        records and their descendants."""
        cur = await self.conn.execute(
            "WITH RECURSIVE tree(id) AS (SELECT id FROM res_partner WHERE id = ANY(%s)"
            " UNION SELECT c.id FROM res_partner c JOIN tree ON c.parent_id = tree.id)"
            " SELECT id FROM tree",
            (ids,),
        )
        for (record_id,) in await cur.fetchall():
            commercial = await self._commercial_partner(record_id)
            row = await (
                await self.conn.execute(
                    "SELECT p.name, p.is_company, p.type, p.parent_id, c.name, c.is_company"
                    " FROM res_partner p LEFT JOIN res_partner c ON c.id = %s"
                    " WHERE p.id = %s",
                    (commercial, record_id),
                )
            ).fetchone()
            assert row is not None
            name, is_company, partner_type, parent_id, commercial_name, commercial_is_co = row
            complete = name or ""
            if parent_id:
                if not complete and partner_type in ("invoice", "delivery", "other"):
                    complete = dict(PARTNER_TYPES)[partner_type]
                if not is_company:
                    prefix = commercial_name if commercial_is_co else None
                    if prefix is None:
                        parent = await (
                            await self.conn.execute(
                                "SELECT name FROM res_partner WHERE id = %s", (parent_id,)
                            )
                        ).fetchone()
                        prefix = parent[0] if parent else ""
                    complete = f"{prefix}, {complete}"
            await self.conn.execute(
                "UPDATE res_partner SET complete_name = %s, commercial_partner_id = %s"
                " WHERE id = %s",
                (complete.strip(), commercial, record_id),
            )

    async def _commercial_partner(self, record_id: int) -> int:
        current = record_id
        seen = set()
        while current not in seen:
            seen.add(current)
            row = await (
                await self.conn.execute(
                    "SELECT is_company, parent_id FROM res_partner WHERE id = %s", (current,)
                )
            ).fetchone()
            if row is None or row[0] or not row[1]:
                return current
            current = row[1]
        return record_id

    async def name_search_ids(
        self, name: str, domain: Any, operator: str, limit: int | None
    ) -> list[int]:
        # _rec_names_search: complete_name, email, ref, vat.
        if not (name or "").strip() and operator == "ilike":
            return await self.search_ids(list(domain or []), limit=limit)
        name_domain = [
            "|",
            "|",
            "|",
            ("complete_name", operator, name),
            ("email", operator, name),
            ("ref", operator, name),
            ("vat", operator, name),
        ]
        return await self.search_ids([*name_domain, *(domain or [])], limit=limit)

    @api_model
    async def name_create(self, name: str) -> list[Any]:
        await self.require_access("create")
        vals: dict[str, Any] = {"name": name}
        if "<" in name and name.rstrip().endswith(">"):
            # "Name <email>" gives both (res.partner.name_create).
            display, _, email = name.rstrip()[:-1].rpartition("<")
            vals = {"name": display.strip().strip('"') or email.strip(), "email": email.strip()}
        [new_id] = await self.create_records([vals])
        display_names = await self.display_names([new_id])
        return [new_id, display_names.get(new_id, False)]

    async def before_unlink(self) -> None:
        cur = await self.conn.execute(
            "SELECT u.login, p.name FROM res_users u JOIN res_partner p ON p.id = u.partner_id"
            " WHERE u.partner_id = ANY(%s) AND u.active",
            (self.ids,),
        )
        users = await cur.fetchall()
        if users:
            names = ", ".join(name for _login, name in users)
            cur = await self.conn.execute(
                "SELECT id FROM res_users WHERE partner_id = ANY(%s) AND active ORDER BY id",
                (self.ids,),
            )
            user_ids = [row[0] for row in await cur.fetchall()]
            action: dict[str, Any] = {
                "type": "ir.actions.act_window",
                "res_model": "res.users",
                "context": {"create": False},
            }
            if len(user_ids) == 1:
                action |= {"view_mode": "form", "views": [[False, "form"]], "res_id": user_ids[0]}
            else:
                action |= {
                    "view_mode": "list,form",
                    "views": [[False, "list"], [False, "form"]],
                    "domain": [["id", "in", user_ids]],
                }
            # Observed on 17.0 and 18.0: a RedirectWarning (message, action, button, context).
            raise RedirectWarning(
                "You cannot delete contacts linked to an active user.\n"
                "You should rather archive them after archiving their associated user.\n\n"
                f"Linked active users : {names}",
                action,
                "Go to users",
                None,
            )

    def copy_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "name": f"{values.get('name') or ''} (copy)"}


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
        installed = [code for code, _ in await _installed_languages(self)]
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
        installed = [code for code, _ in await _installed_languages(self)]
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


class IrAttachment(BaseModel):
    _name = "ir.attachment"
    _description = "Attachment"
    _table = "ir_attachment"
    _order = "id desc"
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": (INTERNAL, SYSTEM),
        "write": (INTERNAL, SYSTEM),
        "create": (INTERNAL, SYSTEM),
        "unlink": (INTERNAL, SYSTEM),
    }
    _defaults: ClassVar[dict[str, Any]] = {"type": "binary", "public": False}
    _private_methods = BaseModel._private_methods | {
        "_file_read",
        "_file_write",
        "_file_delete",
        "_mark_for_gc",
        "_gc_file_store",
        "_filestore",
    }
    _field_list = [
        F.char("name", "Name", required=True),
        F.text("description", "Description"),
        F.char("res_model", "Resource Model", readonly=True),
        F.char("res_field", "Resource Field", readonly=True),
        F.integer("res_id", "Resource ID", readonly=True),
        F.many2one("company_id", "Company", "res.company"),
        F.selection("type", "Type", (("url", "URL"), ("binary", "File")), required=True),
        F.char("url", "Url"),
        F.boolean("public", "Is public document"),
        F.char("access_token", "Access Token"),
        F.binary("datas", "File Content (base64)", store=False),
        F.binary("db_datas", "Database Data", internal=True),
        F.char("store_fname", "Stored Filename"),
        F.integer("file_size", "File Size", readonly=True),
        F.char("checksum", "Checksum/SHA1", readonly=True),
        F.char("mimetype", "Mime Type", readonly=True),
    ]

    def extra_domain(self, domain: list[Any]) -> list[Any]:
        # Attachments of binary fields are hidden unless asked for (ir.attachment._search).
        if mentions_field(domain, "id") or mentions_field(domain, "res_field"):
            return []
        return [("res_field", "=", False)]

    async def compute_datas(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT id, store_fname, db_datas FROM ir_attachment WHERE id = ANY(%s)", (ids,)
        )
        result: dict[int, Any] = {}
        for record_id, fname, db_datas in await cur.fetchall():
            raw = filestore.read_file(self.env.filestore, fname) if fname else db_datas
            result[record_id] = base64.b64encode(bytes(raw)).decode("ascii") if raw else False
        return result

    async def inverse_datas(self, value: Any) -> None:
        if value in (False, None):
            raw = b""
        else:
            try:
                raw = base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError, TypeError) as exc:
                raise ValidationError(f"Invalid base64 content: {exc}") from None
        for record_id in self.ids:
            fname, checksum = (None, None)
            if raw:
                fname, checksum = await asyncio.to_thread(
                    filestore.write_file, self.env.filestore, raw
                )
            row = await (
                await self.conn.execute(
                    "SELECT name, mimetype, store_fname FROM ir_attachment WHERE id = %s",
                    (record_id,),
                )
            ).fetchone()
            assert row is not None
            name, mimetype, old_fname = row
            if old_fname and old_fname != fname:
                filestore.mark_for_gc(self.env.filestore, old_fname)
            await self.conn.execute(
                "UPDATE ir_attachment SET store_fname = %s, checksum = %s, file_size = %s,"
                " db_datas = NULL, mimetype = %s WHERE id = %s",
                (fname, checksum, len(raw), mimetype or guess_mimetype(name, raw), record_id),
            )

    async def before_unlink(self) -> None:
        cur = await self.conn.execute(
            "SELECT store_fname FROM ir_attachment WHERE id = ANY(%s) AND store_fname IS NOT NULL",
            (self.ids,),
        )
        for (fname,) in await cur.fetchall():
            # The file stays until the garbage collector runs, as in Odoo.
            filestore.mark_for_gc(self.env.filestore, fname)


def guess_mimetype(name: str | None, raw: bytes) -> str:
    guessed, _ = mimetypes.guess_type(name or "")
    if guessed:
        return guessed
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF8", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
    )
    for signature, mimetype in signatures:
        if raw.startswith(signature):
            return mimetype
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


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


_COMMON_MODELS: tuple[type[BaseModel], ...] = (
    Partner,
    Company,
    IrConfigParameter,
    Module,
    IrAttachment,
    Lang,
    Currency,
)


@cache
def models_for(version: OdooVersion) -> dict[str, type[BaseModel]]:
    if version.major >= 19:
        versioned: tuple[type[BaseModel], ...] = (Users19, Groups19)
    else:
        versioned = (Users, Groups)
    classes: tuple[type[BaseModel], ...] = (*_COMMON_MODELS, *versioned)
    return {cls._name: cls for cls in classes}


_DEFAULT_MODELS: tuple[type[BaseModel], ...] = (*_COMMON_MODELS, Users, Groups)
MODELS: dict[str, type[BaseModel]] = {cls._name: cls for cls in _DEFAULT_MODELS}
