"""The ORM methods widely used clients call (odoo-protocol.md section 11.3), on real tables.

``BaseModel`` implements Odoo's generic methods once (search, read, search_read, search_count,
name_search, name_create, create, write, unlink, copy, fields_get, default_get, exists,
action_archive/unarchive, check_access_rights, and name_get on 17.0 / check_access and
has_access from 18.0); the concrete models (``orm/models/``, one file per model as in Odoo's
``addons/base/models/``) declare their fields and add their own rules and methods. Class and
method names are Odoo's, so Python's own TypeError texts ("BaseModel.read() got an unexpected
keyword argument ...") match: the public methods are defined here, on ``BaseModel`` itself.

What they stand on, each layer using only those before it: ``recordset.py`` (the model's
definition, records in an environment), ``access.py`` (access rights), ``search.py``
(domains and order), ``read.py``, ``write.py``; ``api.py`` says how each public method is
called over RPC.
"""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import sql

from odoo_emulator.orm.access import OPERATION_VERBS, AccessRights
from odoo_emulator.orm.api import (
    api_by_version,
    api_model,
    api_model_create,
    api_records,
    bind_arguments,
)
from odoo_emulator.orm.write import Writing


class BaseModel(Writing, AccessRights):
    # Callable private methods real 18.0 has on this model: it answers AccessError for them
    # and AttributeError for names that do not exist (section 11.1; this list was checked
    # name by name against 18.0, where ``_read``, ``_name_search``, ``_browse`` are gone).
    _private_methods: ClassVar[frozenset[str]] = frozenset(
        {
            "_search",
            "_create",
            "_write",
            "_compute_display_name",
            "_check_company",
            "_flush_search",
            "_where_calc",
            "_read_group",
            "_validate_fields",
            "_auto_init",
            "_fetch_field",
            "_filtered_access",
            "_check_access",
        }
    )
    # Public methods real Odoo has but the emulator does not implement: calling one says so
    # plainly instead of pretending the method does not exist.
    _unimplemented_methods: ClassVar[frozenset[str]] = frozenset(
        {
            "copy_data",
            "read_group",
            "web_read_group",
            "web_search_read",
            "web_read",
            "web_save",
            "onchange",
            "get_metadata",
            "export_data",
            "load",
            "get_views",
            "get_formview_action",
            "search_fetch",
            "fetch",
            "check_access_rule",
            "get_external_id",
        }
    )

    @api_model
    async def search(
        self,
        domain: Any,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        await self.require_access("read")
        return await self.search_ids(domain, offset, limit, order)

    @api_model
    async def search_count(self, domain: Any, limit: int | None = None) -> int:
        await self.require_access("read")
        query = sql.SQL("SELECT {t}.id FROM {t} WHERE {w}").format(
            t=self.table, w=self.where(domain)
        )
        if limit:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(int(limit)))
        cur = await self.conn.execute(sql.SQL("SELECT count(*) FROM ({}) AS q").format(query))
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    @api_records
    async def read(self, fields: Any = None, load: str | None = "_classic_read") -> Any:
        await self.require_access("read")
        names = await self.accessible_field_names(list(fields) if fields else None)
        return await self.read_records(self.ids, names, load)

    @api_model
    async def search_read(
        self,
        domain: Any = None,
        fields: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        load: str | None = "_classic_read",
    ) -> list[dict[str, Any]]:
        await self.require_access("read")
        names = await self.accessible_field_names(list(fields) if fields else None)
        ids = await self.search_ids(domain or [], offset, limit, order)
        return await self.read_records(ids, names, load)

    async def name_search_ids(
        self, name: str, domain: Any, operator: str, limit: int | None
    ) -> list[int]:
        if not (name or "").strip() and operator == "ilike":
            name_domain: list[Any] = []
        else:
            name_domain = [("display_name", operator, name)]
        return await self.search_ids([*name_domain, *(domain or [])], limit=limit)

    @api_model
    async def name_search(self, name: str = "", *args: Any, **kwargs: Any) -> list[list[Any]]:
        # The domain argument is ``args`` up to 17.0 and ``domain`` from 18.0.
        names = ("name", self.env.version.name_search_domain_kw, "operator", "limit")
        bound = bind_arguments(
            "BaseModel.name_search",
            names,
            {"name": "", names[1]: None, "operator": "ilike", "limit": 100},
            (name, *args),
            kwargs,
        )
        await self.require_access("read")
        ids = await self.name_search_ids(
            bound["name"], bound[names[1]], bound["operator"], bound["limit"]
        )
        display = await self.display_names(ids)
        return [[i, display.get(i, False)] for i in ids]

    @api_model
    async def name_create(self, name: str) -> list[Any]:
        await self.require_access("create")
        [new_id] = await self.create_records([{self._rec_name: name}])
        display = await self.display_names([new_id])
        return [new_id, display.get(new_id, False)]

    @api_model_create
    async def create(self, vals_list: list[dict[str, Any]]) -> list[int]:
        await self.require_access("create")
        return await self.create_records(vals_list)

    @api_records
    async def write(self, vals: dict[str, Any]) -> bool:
        await self.require_access("write")
        if not isinstance(vals, dict):
            raise ValueError(f"Invalid values {vals!r} for {self._name}.write()")
        self.check_field_names(vals)
        await self.accessible_field_names(list(vals), "write")
        await self.check_selection_values(vals)
        await self.ensure_exist()
        await self.before_write(vals)
        await self.update(self.ids, vals)
        await self.after_write(vals)
        return True

    async def before_write(self, vals: dict[str, Any]) -> None:
        """Model hook: refuse or complete a write."""

    async def after_write(self, vals: dict[str, Any]) -> None:
        """Model hook: side effects of a write (recomputations, cache invalidation)."""

    @api_records
    async def unlink(self) -> bool:
        await self.require_access("unlink")
        if not self.ids:
            return True
        await self.ensure_exist()
        await self.before_unlink()
        await self.unlink_records()
        return True

    async def before_unlink(self) -> None:
        """Model hook: refuse the deletion of protected records."""

    @api_model
    async def fields_get(self, allfields: Any = None, attributes: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, fld in self._fields.items():
            if fld.internal or (allfields and name not in allfields):
                continue
            if not await self.field_accessible(fld):
                continue  # Odoo leaves out the fields of groups the user is not in
            description = fld.describe(self.env.version.major)
            if fld.type == "selection":
                allowed = await self.selection_options(fld)
                description["selection"] = [list(pair) for pair in allowed]
            if attributes:
                description = {k: v for k, v in description.items() if k in attributes}
            result[name] = description
        return result

    @api_model
    async def default_get(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # The parameter is ``fields_list`` up to 18.0 and ``fields`` in 19.0.
        name = "fields" if self.env.version.major >= 19 else "fields_list"
        bound = bind_arguments("BaseModel.default_get", (name,), {}, args, kwargs)
        defaults = await self.default_values()
        return {field: defaults[field] for field in bound[name] or () if field in defaults}

    @api_records
    async def exists(self) -> list[int]:
        present = await self.existing_ids(self.ids)
        return [i for i in self.ids if i in present]

    @api_model
    async def check_access_rights(self, operation: str, raise_exception: bool = True) -> Any:
        if operation not in OPERATION_VERBS:
            raise ValueError(f"Invalid access mode {operation!r}")
        if raise_exception:
            await self.require_access(operation)
            return None if self.env.version.has_check_access else True
        return await self.may_access(operation)

    @api_by_version(lambda version: "records" if version.has_check_access else None)
    async def check_access(self, operation: str) -> None:
        """18.0 ``check_access``: AccessError or nothing."""
        await self.require_access(operation)

    @api_by_version(lambda version: "records" if version.has_check_access else None)
    async def has_access(self, operation: str) -> bool:
        """18.0 ``has_access``."""
        return await self.may_access(operation)

    @api_by_version(lambda version: "records" if version.has_name_get else None)
    async def name_get(self) -> list[list[Any]]:
        """17.0 still answers ``[[id, display_name]]`` (deprecated since)."""
        await self.require_access("read")
        present = await self.existing_ids(self.ids)
        names = await self.display_names([i for i in self.ids if i in present])
        return [[i, names.get(i, False)] for i in self.ids if i in present]

    async def _set_active(self, value: bool | None) -> None:
        if "active" not in self._fields:
            raise ValueError(f"The model {self._name} has no active field.")
        await self.require_access("write")
        await self.ensure_exist()
        if value is None:
            cur = await self.conn.execute(
                sql.SQL("SELECT id, active FROM {} WHERE id = ANY(%s)").format(self.table),
                (self.ids,),
            )
            for record_id, active in await cur.fetchall():
                await self.browse([record_id]).write({"active": not active})
            return
        await self.write({"active": value})

    @api_records
    async def action_archive(self) -> None:
        """Answers None (no ``result`` member; a fault over XML-RPC), as Odoo does."""
        await self._set_active(False)

    @api_records
    async def action_unarchive(self) -> None:
        await self._set_active(True)

    @api_records
    async def toggle_active(self) -> None:
        await self._set_active(None)

    def copy_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        """Model hook: what a copy changes (names get " (copy)", unique keys...)."""
        return values

    @api_records
    async def copy(self, default: dict[str, Any] | None = None) -> Any:
        """A copy of each record's stored values; an id on 17.0 (one record only), ids from
        18.0."""
        await self.require_access("create")
        if not self.env.version.copy_returns_ids and len(self.ids) != 1:
            raise ValueError(f"Expected singleton: {self._name}{tuple(self.ids)!r}")
        await self.ensure_exist()
        # Stored and many2many values are copied, one2many ones are not (Odoo's defaults).
        names = [
            name
            for name, fld in self._fields.items()
            if (fld.store or fld.delegated_through or fld.type == "many2many")
            and name not in ("id", "create_uid", "create_date", "write_uid", "write_date")
            and not fld.readonly
        ]
        new_ids = []
        for record in await self.read_records(self.ids, names, load=None):
            values = {k: v for k, v in record.items() if k != "id"}
            values = self.copy_defaults(values)
            values.update(default or {})
            new_ids.extend(await self.create_records([values]))
        return new_ids if self.env.version.copy_returns_ids else new_ids[0]
