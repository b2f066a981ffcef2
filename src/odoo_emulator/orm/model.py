"""The ORM methods widely used clients call (odoo-protocol.md section 11.3), on real tables.

``BaseModel`` implements Odoo's generic methods once (search, read, search_read, search_count,
name_search, name_create, create, write, unlink, copy, fields_get, default_get, exists,
action_archive/unarchive, check_access_rights, and name_get on 17.0 / check_access and
has_access from 18.0); the concrete models (``orm/models.py``) declare their fields and add
their own rules and methods. Class and method names are Odoo's, so Python's own TypeError
texts ("BaseModel.read() got an unexpected keyword argument ...") match.

A method is callable over RPC when it carries ``_rpc_api``, which says how ``call_kw`` binds
its arguments, as Odoo's ``@api.model`` / ``@api.model_create_multi`` / record methods do:
``model`` methods take the arguments as given, ``model_create`` takes one dict (answering an
id) or a list (answering ids), record methods take the ids first. It may depend on the
version played (``api_by_version``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from odoo_emulator.errors import AccessError, MissingError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.domain import FALSE_SQL, TRUE_SQL, DomainCompiler, mentions_field
from odoo_emulator.orm.fields import Field
from odoo_emulator.versions import OdooVersion

if TYPE_CHECKING:
    from odoo_emulator.orm.env import Env

FnT = TypeVar("FnT", bound=Callable[..., Awaitable[Any]])
logger = logging.getLogger(__name__)

ID_FIELD = F.integer("id", "ID", readonly=True)
DISPLAY_NAME_FIELD = F.char(
    "display_name", "Display Name", store=False, readonly=True, searchable_computed=True
)

OPERATION_VERBS = {"read": "access", "write": "modify", "create": "create", "unlink": "delete"}
GROUP_LABELS = {
    "base.group_system": "Administration/Settings",
    "base.group_erp_manager": "Administration/Access Rights",
    "base.group_user": "User types/Internal User",
    "base.group_partner_manager": "Extra Rights/Contact Creation",
}
_ORDER_SPEC = re.compile(
    r"^(\s*\"?[a-z0-9_]+\"?(\.[a-z0-9_]+)?(\s+(desc|asc))?(\s+nulls\s+(first|last))?\s*(,|$))+(?<!,)$",
    re.IGNORECASE,
)


def api_model(fn: FnT) -> FnT:
    fn._rpc_api = "model"  # type: ignore[attr-defined]
    return fn


def api_model_create(fn: FnT) -> FnT:
    fn._rpc_api = "model_create"  # type: ignore[attr-defined]
    return fn


def api_records(fn: FnT) -> FnT:
    fn._rpc_api = "records"  # type: ignore[attr-defined]
    return fn


def api_by_version(kind: Callable[[OdooVersion], str | None]) -> Callable[[FnT], FnT]:
    """A method whose RPC binding depends on the version played; ``kind`` answers "model",
    "records" or None (the method does not exist in that version)."""

    def decorate(fn: FnT) -> FnT:
        fn._rpc_api = kind  # type: ignore[attr-defined]
        return fn

    return decorate


def rpc_kind(method: Any, version: OdooVersion) -> str | None:
    """How ``call_kw`` binds ``method`` in ``version`` (None: not callable over RPC)."""
    kind = getattr(method, "_rpc_api", None)
    if callable(kind):
        result: str | None = kind(version)
        return result
    return kind


def now_utc() -> dt.datetime:
    """``fields.Datetime.now()``: naive UTC, whole seconds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class BaseModel:
    _name: ClassVar[str]
    _description: ClassVar[str]
    _table: ClassVar[str]
    _order: ClassVar[str] = "id"
    _rec_name: ClassVar[str] = "name"
    _log_access: ClassVar[bool] = True
    # Filled by __init_subclass__ from _field_list (+ the magic fields).
    _fields: ClassVar[dict[str, Field]] = {}
    _field_list: ClassVar[list[Field]] = []
    # Defaults applied by create (a value, or a callable taking the env).
    _defaults: ClassVar[dict[str, Any]] = {}
    # Groups (xml ids, any of) allowed per operation; the superuser passes everything.
    _access: ClassVar[dict[str, tuple[str, ...]]] = {
        "read": ("base.group_system",),
        "write": ("base.group_system",),
        "create": ("base.group_system",),
        "unlink": ("base.group_system",),
    }
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_field_list" in cls.__dict__:
            fields_by_name: dict[str, Field] = {"id": ID_FIELD}
            for fld in cls._field_list:
                fields_by_name[fld.name] = fld
            fields_by_name.setdefault("display_name", DISPLAY_NAME_FIELD)
            if cls._log_access:
                for fld in F.log_access_fields():
                    fields_by_name.setdefault(fld.name, fld)
            cls._fields = fields_by_name

    def __init__(self, env: Env, ids: Sequence[int] = ()) -> None:
        self.env = env
        self.ids = list(ids)

    def browse(self, ids: Any) -> BaseModel:
        """Odoo's ``browse``: an id or an iterable of ids, taken as given (a bad value fails
        when used, after Python has bound the method's arguments, as in Odoo)."""
        if isinstance(ids, int) and not isinstance(ids, bool):
            id_list = [ids]
        elif not ids:
            id_list = []
        else:
            id_list = list(ids)
        return type(self)(self.env, id_list)

    def with_env(self, env: Env) -> BaseModel:
        return type(self)(env, self.ids)

    def sudo(self) -> BaseModel:
        return self.with_env(self.env.sudo())

    @classmethod
    def field_or_id(cls, name: str) -> Field | None:
        return cls._fields.get(name)

    @property
    def conn(self) -> psycopg.AsyncConnection[Any]:
        return self.env.conn

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(self._table)

    # -- access rights --------------------------------------------------------------------------

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

    # -- searching ------------------------------------------------------------------------------

    def compiler(self) -> DomainCompiler:
        return DomainCompiler(self.env.models)

    def extra_domain(self, domain: list[Any]) -> list[Any]:
        """Conditions the model adds to every search (ir.attachment hides field files)."""
        return []

    def where(self, domain: Any, *, alias: str | None = None) -> sql.Composable:
        domain = list(domain or [])
        active_test = self.env.context.get("active_test", True)
        if active_test and "active" in self._fields and not mentions_field(domain, "active"):
            domain = [("active", "=", True), *domain]
        domain = [*self.extra_domain(domain), *domain]
        return self.compiler().compile(type(self), domain, alias or self._table)

    def order_by(self, order: str | None) -> sql.Composable:
        spec = order or self._order
        if not _ORDER_SPEC.match(spec):
            raise ValueError(
                f'Invalid "order" specified ({spec}). A valid "order" specification is a '
                "comma-separated list of valid field names (optionally followed by asc/desc "
                "for the direction)"
            )
        terms: list[sql.Composable] = []
        for item in spec.split(","):
            words = item.split()
            name = words[0].strip('"')
            direction = " ".join(words[1:]).upper()
            fld = self.field_or_id(name.split(".")[0])
            if fld is None:
                raise ValueError(f"Invalid field {name!r} on model {self._name!r}")
            terms.append(sql.SQL("{} {}").format(self.order_expression(fld), sql.SQL(direction)))
        return sql.SQL(", ").join(terms)

    def order_expression(self, fld: Field) -> sql.Composable:
        column = sql.SQL("{}.{}").format(self.table, sql.Identifier(fld.name))
        if fld.delegated_through:
            parent = self.env.models[self._fields[fld.delegated_through].relation or ""]
            return sql.SQL("(SELECT p.{} FROM {} p WHERE p.id = {}.{})").format(
                sql.Identifier(fld.name),
                sql.Identifier(parent._table),
                self.table,
                sql.Identifier(fld.delegated_through),
            )
        if fld.name == "display_name":
            rec = self._fields.get(self._rec_name)
            return self.order_expression(rec) if rec and rec.name != "display_name" else column
        if fld.type == "many2one" and fld.relation:
            comodel = self.env.models[fld.relation]
            rec = comodel._fields.get(comodel._rec_name)
            if rec is not None and rec.store:
                inner = sql.Identifier(rec.name)
                expr = sql.SQL("c.{}->>'en_US'").format(inner) if rec.translate else inner
                return sql.SQL("(SELECT {} FROM {} c WHERE c.id = {})").format(
                    expr if rec.translate else sql.SQL("c.{}").format(inner),
                    sql.Identifier(comodel._table),
                    column,
                )
            return column
        if not fld.store:
            raise ValueError(f"Cannot order by non-stored field {self._name}.{fld.name}")
        if fld.translate:
            return sql.SQL("({}->>'en_US')").format(column)
        return column

    async def search_ids(
        self,
        domain: Any,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        query = sql.SQL("SELECT {t}.id FROM {t} WHERE {w} ORDER BY {o}").format(
            t=self.table, w=self.where(domain), o=self.order_by(order)
        )
        if limit:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(int(limit)))
        if offset:
            query = sql.SQL("{} OFFSET {}").format(query, sql.Literal(int(offset)))
        cur = await self.conn.execute(query)
        return [row[0] for row in await cur.fetchall()]

    @classmethod
    def search_computed(
        cls, compiler: DomainCompiler, fld: Field, alias: str, operator: str, value: Any
    ) -> sql.Composable:
        """Search a non-stored field; display_name searches the record name."""
        if fld.name == "display_name":
            rec = cls._fields.get(cls._rec_name)
            if rec is None or rec.name == "display_name":
                return FALSE_SQL
            return compiler.leaf(cls, (rec.name, operator, value), alias)
        # Odoo logs "Non-stored field ... cannot be searched." and ignores the condition
        # (res.users' password included: such a search matches every record).
        logger.warning("Non-stored field %s.%s cannot be searched.", cls._name, fld.name)
        return TRUE_SQL

    # -- reading --------------------------------------------------------------------------------

    def readable_field_names(self) -> list[str]:
        return [name for name, fld in self._fields.items() if not fld.internal]

    async def existing_ids(self, ids: Iterable[int]) -> set[int]:
        id_list = list(ids)
        if not id_list:
            return set()
        cur = await self.conn.execute(
            sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(self.table), (id_list,)
        )
        return {row[0] for row in await cur.fetchall()}

    async def read_records(
        self, ids: Sequence[int], names: Sequence[str], load: str | None = "_classic_read"
    ) -> list[dict[str, Any]]:
        """Odoo's ``read``: one dict per existing record, in the order of ``ids``."""
        for name in names:
            if name not in self._fields:
                raise ValueError(f"Invalid field {name!r} on model {self._name!r}")
        unique_ids = list(dict.fromkeys(int(i) for i in ids))
        if not unique_ids:
            return []
        stored = [self._fields[n] for n in names if self._fields[n].store and n != "id"]
        delegated = [self._fields[n] for n in names if self._fields[n].delegated_through]
        select: list[sql.Composable] = [sql.SQL("{}.id").format(self.table)]
        for fld in stored:
            select.append(sql.SQL("{}.{}").format(self.table, sql.Identifier(fld.name)))
        for fld in delegated:
            select.append(self.order_expression(fld))
        query = sql.SQL("SELECT {} FROM {} WHERE {}.id = ANY(%s)").format(
            sql.SQL(", ").join(select), self.table, self.table
        )
        cur = await self.conn.execute(query, (unique_ids,))
        rows = {row[0]: row for row in await cur.fetchall()}
        found = [i for i in unique_ids if i in rows]
        values: dict[int, dict[str, Any]] = {i: {"id": i} for i in found}
        for index, fld in enumerate([*stored, *delegated], start=1):
            for record_id in found:
                values[record_id][fld.name] = rows[record_id][index]
        # Computed and relational fields, each filled for all records at once.
        for name in names:
            fld = self._fields[name]
            if name == "id" or fld.store or fld.delegated_through:
                continue
            computed = await self.compute_field(fld, found)
            for record_id in found:
                values[record_id][name] = computed.get(record_id, False)
        # Convert to what read answers.
        for name in names:
            fld = self._fields[name]
            if fld.type == "many2one":
                await self._load_many2one(fld, values, found, load)
            elif name != "id" and fld.type not in ("one2many", "many2many") and fld.store:
                for record_id in found:
                    values[record_id][name] = F.to_read_value(fld, values[record_id][name])
            elif fld.delegated_through:
                for record_id in found:
                    values[record_id][name] = F.to_read_value(fld, values[record_id][name])
        result = []
        for record_id in ids:
            if int(record_id) in values:
                record = values[int(record_id)]
                result.append({"id": record["id"], **{n: record[n] for n in names if n != "id"}})
        return result

    async def _load_many2one(
        self,
        fld: Field,
        values: dict[int, dict[str, Any]],
        found: list[int],
        load: str | None,
    ) -> None:
        targets = {values[i][fld.name] for i in found if values[i][fld.name]}
        names: dict[int, str] = {}
        if targets and load == "_classic_read" and fld.relation:
            names = await self.env.sudo()[fld.relation].display_names(sorted(targets))
        for record_id in found:
            target = values[record_id][fld.name]
            if not target:
                values[record_id][fld.name] = False
            elif load == "_classic_read":
                values[record_id][fld.name] = [target, names.get(target, False)]
            else:
                values[record_id][fld.name] = target

    async def compute_field(self, fld: Field, ids: list[int]) -> dict[int, Any]:
        """Values of a non-stored field; models add ``compute_<name>`` methods."""
        hook = getattr(self, f"compute_{fld.name}", None)
        if hook is not None:
            result: dict[int, Any] = await hook(ids)
            return result
        if fld.name == "display_name":
            return dict(await self.display_names(ids))
        if fld.type == "one2many":
            return await self._read_one2many(fld, ids)
        if fld.type == "many2many":
            return await self._read_many2many(fld, ids)
        return {}

    async def _read_one2many(self, fld: Field, ids: list[int]) -> dict[int, list[int]]:
        assert fld.relation and fld.inverse_name
        # Archived records are always left out, as in _read_many2many.
        comodel = self.env.sudo().with_context({})[fld.relation]
        domain = [(fld.inverse_name, "in", ids)]
        query = sql.SQL("SELECT {t}.id, {t}.{inv} FROM {t} WHERE {w} ORDER BY {o}").format(
            t=comodel.table,
            inv=sql.Identifier(fld.inverse_name),
            w=comodel.where(domain),
            o=comodel.order_by(None),
        )
        result: dict[int, list[int]] = {i: [] for i in ids}
        for child_id, parent in await (await self.conn.execute(query)).fetchall():
            result.setdefault(parent, []).append(child_id)
        return result

    async def _read_many2many(self, fld: Field, ids: list[int]) -> dict[int, list[int]]:
        """Related ids in the comodel's order; archived ones always left out (observed on
        17.0 and 18.0: even with ``active_test`` False in the context)."""
        assert fld.relation and fld.relation_table and fld.column1 and fld.column2
        comodel = self.env.sudo().with_context({})[fld.relation]
        query = sql.SQL(
            "SELECT rel.{c1}, {t}.id FROM {rel} AS rel JOIN {t} ON {t}.id = rel.{c2}"
            " WHERE rel.{c1} = ANY(%s) AND {w} ORDER BY {o}"
        ).format(
            c1=sql.Identifier(fld.column1),
            c2=sql.Identifier(fld.column2),
            rel=sql.Identifier(fld.relation_table),
            t=comodel.table,
            w=comodel.where([]),
            o=comodel.order_by(None),
        )
        result: dict[int, list[int]] = {i: [] for i in ids}
        for own, other in await (await self.conn.execute(query, (ids,))).fetchall():
            result.setdefault(own, []).append(other)
        return result

    async def display_names(self, ids: Sequence[int]) -> dict[int, Any]:
        rec = self._fields.get(self._rec_name)
        if not ids:
            return {}
        if rec is None or not (rec.store or rec.delegated_through):
            return {i: f"{self._name},{i}" for i in ids}
        expr = self.order_expression(rec)
        query = sql.SQL("SELECT {}.id, {} FROM {} WHERE {}.id = ANY(%s)").format(
            self.table, expr, self.table, self.table
        )
        rows = await (await self.conn.execute(query, (list(ids),))).fetchall()
        return {row[0]: (row[1] if row[1] not in (None, "") else False) for row in rows}

    # -- writing --------------------------------------------------------------------------------

    def check_field_names(self, vals: dict[str, Any]) -> None:
        for name in vals:
            if name not in self._fields:
                raise ValueError(f"Invalid field {name!r} on model {self._name!r}")

    async def default_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, default in self._defaults.items():
            values[name] = default(self.env) if callable(default) else default
        return values

    async def create_records(self, vals_list: list[dict[str, Any]]) -> list[int]:
        ids = []
        for vals in vals_list:
            if not isinstance(vals, dict):
                raise ValueError(f"Invalid values {vals!r} for {self._name}.create()")
            self.check_field_names(vals)
            await self.check_selection_values(vals)
            full = {**await self.default_values(), **vals}
            full = await self.prepare_create(full)
            ids.append(await self.insert(full))
        for new_id, vals in zip(ids, vals_list, strict=True):
            await self.after_create(new_id, vals)
        return ids

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        """Model hook: complete or check the values of a new record."""
        return vals

    async def after_create(self, record_id: int, vals: dict[str, Any]) -> None:
        """Model hook: work needing the new record's id."""

    async def insert(self, vals: dict[str, Any]) -> int:
        columns: dict[str, Any] = {}
        later: dict[str, Any] = {}
        delegated: dict[str, dict[str, Any]] = {}
        for name, value in vals.items():
            fld = self._fields[name]
            if fld.delegated_through:
                delegated.setdefault(fld.delegated_through, {})[name] = value
            elif fld.store and name != "id":
                columns[name] = self.column_value(fld, value)
            elif fld.type in ("one2many", "many2many") or self.has_inverse(fld):
                later[name] = value
        for parent_field, parent_vals in delegated.items():
            if not columns.get(parent_field):
                relation = self._fields[parent_field].relation
                assert relation is not None
                [columns[parent_field]] = await self.env[relation].create_records([parent_vals])
                parent_vals.clear()
        if self._log_access:
            stamp = now_utc()
            columns.setdefault("create_uid", self.env.uid)
            columns.setdefault("write_uid", self.env.uid)
            columns["create_date"] = stamp
            columns["write_date"] = stamp
        names = list(columns)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
            self.table,
            sql.SQL(", ").join(sql.Identifier(n) for n in names),
            sql.SQL(", ").join(sql.Placeholder() for _ in names),
        )
        row = await (await self.conn.execute(query, [columns[n] for n in names])).fetchone()
        assert row is not None
        new_id = int(row[0])
        for parent_field, parent_vals in delegated.items():
            if parent_vals:  # an explicit parent record was given: update it
                relation = self._fields[parent_field].relation
                assert relation is not None
                await self.env[relation].update([columns[parent_field]], parent_vals)
        if later:
            await self.browse([new_id]).update_relational(later)
        return new_id

    def has_inverse(self, fld: Field) -> bool:
        return hasattr(self, f"inverse_{fld.name}")

    def column_value(self, fld: Field, value: Any) -> Any:
        converted = F.to_column_value(fld, value)
        if fld.translate and converted is not None:
            return Jsonb({"en_US": converted})
        return converted

    async def selection_options(self, fld: Field) -> tuple[tuple[str, str], ...]:
        """The allowed (value, label) pairs; models add ``options_<field>`` for dynamic ones
        (installed languages, time zones)."""
        if fld.delegated_through:
            owner = self.env[self._fields[fld.delegated_through].relation or ""]
            return await owner.selection_options(owner._fields[fld.name])
        hook = getattr(self, f"options_{fld.name}", None)
        if hook is not None:
            result: tuple[tuple[str, str], ...] = await hook()
            return result
        return fld.selection or ()

    async def check_selection_values(self, vals: dict[str, Any]) -> None:
        """Odoo refuses a selection value outside the selection (``Wrong value for ...``)."""
        for name, value in vals.items():
            fld = self._fields.get(name)
            if fld is None or fld.type != "selection" or value in (False, None):
                continue
            if name == "lang" and not self.env.version.validates_lang:
                continue
            owner: BaseModel = self
            if fld.delegated_through:
                owner = self.env[self._fields[fld.delegated_through].relation or ""]
                fld = owner._fields[name]
            allowed = {key for key, _label in await owner.selection_options(fld)}
            if value not in allowed:
                raise ValueError(f"Wrong value for {self._name}.{name}: {value!r}")

    async def update(self, ids: Sequence[int], vals: dict[str, Any]) -> None:
        """Write ``vals`` on existing ``ids`` (no access check, no existence check)."""
        if not ids:
            return
        columns: dict[str, Any] = {}
        later: dict[str, Any] = {}
        delegated: dict[str, dict[str, Any]] = {}
        for name, value in vals.items():
            fld = self._fields[name]
            if fld.delegated_through:
                delegated.setdefault(fld.delegated_through, {})[name] = value
            elif fld.store and name != "id":
                columns[name] = self.column_value(fld, value)
            elif fld.type in ("one2many", "many2many") or self.has_inverse(fld):
                later[name] = value
            # Other computed fields without inverse: ignored, as Odoo does.
        if self._log_access and (columns or later or delegated):
            columns.setdefault("write_uid", self.env.uid)
            columns["write_date"] = now_utc()
        if columns:
            query = sql.SQL("UPDATE {} SET {} WHERE id = ANY(%s)").format(
                self.table,
                sql.SQL(", ").join(
                    sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder()) for n in columns
                ),
            )
            await self.conn.execute(query, [*columns.values(), list(ids)])
        for parent_field, parent_vals in delegated.items():
            relation = self._fields[parent_field].relation
            assert relation is not None
            cur = await self.conn.execute(
                sql.SQL("SELECT DISTINCT {} FROM {} WHERE id = ANY(%s)").format(
                    sql.Identifier(parent_field), self.table
                ),
                (list(ids),),
            )
            parent_ids = [row[0] for row in await cur.fetchall() if row[0]]
            await self.env[relation].update(parent_ids, parent_vals)
        if later:
            await self.browse(ids).update_relational(later)

    async def update_relational(self, vals: dict[str, Any]) -> None:
        for name, value in vals.items():
            fld = self._fields[name]
            if fld.type == "many2many":
                await self._write_many2many(fld, value)
            elif fld.type == "one2many":
                await self._write_one2many(fld, value)
            else:
                await getattr(self, f"inverse_{name}")(value)

    @staticmethod
    def _commands(value: Any) -> list[tuple[Any, ...]]:
        """x2many commands; a plain list of ids means "set" (Command.set)."""
        if value is False or value is None:
            return [(5, 0, 0)]
        if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
            return [(6, 0, list(value))]
        commands = []
        for command in value:
            if not isinstance(command, list | tuple) or not command:
                raise ValueError(f"Invalid x2many command {command!r}")
            commands.append(tuple(command))
        return commands

    async def _write_many2many(self, fld: Field, value: Any) -> None:
        assert fld.relation and fld.relation_table and fld.column1 and fld.column2
        rel = sql.Identifier(fld.relation_table)
        c1, c2 = sql.Identifier(fld.column1), sql.Identifier(fld.column2)
        comodel = self.env[fld.relation]
        for record_id in self.ids:
            for command in self._commands(value):
                code = command[0]
                if code == 0:
                    [new_id] = await comodel.create_records([dict(command[2])])
                    targets = [new_id]
                    code = 4
                elif code == 6:
                    await self.conn.execute(
                        sql.SQL("DELETE FROM {} WHERE {} = %s").format(rel, c1), (record_id,)
                    )
                    targets, code = list(command[2] or []), 4
                elif code == 5:
                    await self.conn.execute(
                        sql.SQL("DELETE FROM {} WHERE {} = %s").format(rel, c1), (record_id,)
                    )
                    continue
                elif code == 1:
                    await comodel.update([int(command[1])], dict(command[2]))
                    continue
                else:
                    targets = [int(command[1])]
                if code == 4:
                    for target in targets:
                        await self.conn.execute(
                            sql.SQL(
                                "INSERT INTO {rel} ({c1}, {c2}) VALUES (%s, %s)"
                                " ON CONFLICT DO NOTHING"
                            ).format(rel=rel, c1=c1, c2=c2),
                            (record_id, int(target)),
                        )
                elif code in (3, 2):
                    await self.conn.execute(
                        sql.SQL("DELETE FROM {} WHERE {} = %s AND {} = ANY(%s)").format(
                            rel, c1, c2
                        ),
                        (record_id, targets),
                    )
                    if code == 2:
                        await comodel.browse(targets).unlink_records()

    async def _write_one2many(self, fld: Field, value: Any) -> None:
        assert fld.relation and fld.inverse_name
        comodel = self.env[fld.relation]
        inverse = fld.inverse_name
        for record_id in self.ids:
            for command in self._commands(value):
                code = command[0]
                if code == 0:
                    await comodel.create_records([{**dict(command[2]), inverse: record_id}])
                elif code == 1:
                    await comodel.update([int(command[1])], dict(command[2]))
                elif code == 2:
                    await comodel.browse([int(command[1])]).unlink_records()
                elif code == 3:
                    await comodel.update([int(command[1])], {inverse: False})
                elif code == 4:
                    await comodel.update([int(command[1])], {inverse: record_id})
                elif code in (5, 6):
                    current = await comodel.search_ids([(inverse, "=", record_id)])
                    keep = set(command[2] or []) if code == 6 else set()
                    await comodel.update([i for i in current if i not in keep], {inverse: False})
                    if keep:
                        await comodel.update(sorted(keep), {inverse: record_id})

    async def ensure_exist(self) -> None:
        """Odoo's MissingError for records that do not exist (any more)."""
        present = await self.existing_ids(self.ids)
        missing = [i for i in self.ids if i not in present]
        if missing:
            shown = ", ".join(str(i) for i in missing)
            raise MissingError(
                "Record does not exist or has been deleted.\n"
                f"(Record: {self._name}({shown},), User: {self.env.uid})"
            )

    async def unlink_records(self) -> None:
        if not self.ids:
            return
        await self.conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self.table), (self.ids,)
        )

    # -- the public (RPC) methods ---------------------------------------------------------------

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
        names = list(fields) if fields else self.readable_field_names()
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
        ids = await self.search_ids(domain or [], offset, limit, order)
        names = list(fields) if fields else self.readable_field_names()
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


def bind_arguments(
    function_name: str,
    names: Sequence[str],
    defaults: dict[str, Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Python's own argument binding, for methods whose parameter names vary by version;
    the TypeError texts are Python's."""
    if len(args) > len(names):
        raise TypeError(
            f"{function_name}() takes from 1 to {len(names) + 1} positional arguments "
            f"but {len(args) + 1} were given"
        )
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{function_name}() got an unexpected keyword argument {key!r}")
        if key in bound:
            raise TypeError(f"{function_name}() got multiple values for argument {key!r}")
        bound[key] = value
    for key in names:
        if key not in bound:
            if key not in defaults:
                raise TypeError(
                    f"{function_name}() missing 1 required positional argument: {key!r}"
                )
            bound[key] = defaults[key]
    return bound
