"""Field definitions: what a model stores, how it reads and writes, and what ``fields_get``
describes (odoo-protocol.md section 11.3: field name -> ``{type, string, relation, required,
readonly, ...}``)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

RELATIONAL = ("many2one", "one2many", "many2many")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    string: str
    # Stored in this model's table (column = name); False for computed fields.
    store: bool = True
    relation: str | None = None
    # one2many: the many2one on the comodel pointing back here.
    inverse_name: str | None = None
    # many2many: relation table and its two columns (ours, theirs).
    relation_table: str | None = None
    column1: str | None = None
    column2: str | None = None
    required: bool = False
    readonly: bool = False
    selection: tuple[tuple[str, str], ...] | None = None
    help: str | None = None
    # _inherits: the field is stored on the record behind this many2one (res.users'
    # name lives on its partner).
    delegated_through: str | None = None
    # Stored as jsonb {"en_US": ...} (Odoo 16+ translated fields).
    translate: bool = False
    # A computed field that can still be searched (by a model hook).
    searchable_computed: bool = False
    # Not returned by read() without a field list, nor listed by fields_get.
    internal: bool = False
    # For fields_get only: the field Odoo relates this one to ("partner_id.name").
    related: str | None = None
    # For fields_get only: Odoo's default_export_compatible (set on a few fields).
    export_default: bool = False
    # Odoo's ``groups=``: only users of one of these groups (xml ids) see the field (it is
    # left out of fields_get and of a read without a field list) or may read it (AccessError).
    groups: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str:
        return self.name

    @property
    def sortable(self) -> bool:
        return self.store and self.type not in ("one2many", "many2many", "binary")

    @property
    def searchable(self) -> bool:
        return self.store or self.searchable_computed or self.delegated_through is not None

    def describe(self, major: int) -> dict[str, Any]:
        """The ``fields_get`` description, with the attributes 17.0 and 18.0 report (18.0
        adds ``groupable``; compared attribute by attribute with both)."""
        related = self.related or (
            f"{self.delegated_through}.{self.name}" if self.delegated_through else None
        )
        depends: list[str] = []
        if related:
            depends = [related]
        elif not self.store and self.type not in ("one2many", "many2many"):
            depends = list(self.extra.get("depends", ()))
        # Odoo stores (and so reports as stored and searchable) x2many fields.
        stored = self.store or self.type in ("one2many", "many2many")
        info: dict[str, Any] = {
            "change_default": False,
            "company_dependent": False,
            "default_export_compatible": self.export_default,
            "depends": depends,
            "exportable": True,
            "manual": False,
            "name": self.name,
            "readonly": self.readonly,
            "required": self.required,
            "searchable": stored or self.delegated_through is not None,
            "sortable": self.sortable or self.delegated_through is not None,
            "store": stored and not self.delegated_through,
            "string": self.string,
            "type": self.type,
        }
        if major >= 18:
            info["groupable"] = self.sortable
        if self.help:
            info["help"] = self.help
        if self.type in RELATIONAL:
            info["relation"] = self.relation
            info["context"] = {}
            info["domain"] = []
        if self.type == "one2many":
            info["relation_field"] = self.inverse_name
        if self.type == "monetary":
            info["currency_field"] = self.extra["currency_field"]
        if self.type == "selection":
            info["selection"] = [list(pair) for pair in self.selection or ()]
        if self.type in ("char", "text", "html"):
            info["translate"] = self.translate
        if self.type == "char":
            info["trim"] = True
        if self.type == "html":
            info |= {
                "sanitize": True,
                "sanitize_attributes": True,
                "sanitize_style": False,
                "sanitize_tags": True,
                "strip_classes": False,
                "strip_style": False,
            }
        if related:
            info["related"] = related
        return dict(sorted(info.items()))


def char(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "char", string, **kw)


def text(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "text", string, **kw)


def html(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "html", string, **kw)


def boolean(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "boolean", string, **kw)


def integer(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "integer", string, **kw)


def float_(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "float", string, **kw)


def monetary(name: str, string: str, currency_field: str = "currency_id", **kw: Any) -> Field:
    """An amount in the currency of ``currency_field`` (a float over RPC)."""
    return Field(name, "monetary", string, extra={"currency_field": currency_field}, **kw)


def datetime(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "datetime", string, **kw)


def date(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "date", string, **kw)


def binary(name: str, string: str, **kw: Any) -> Field:
    return Field(name, "binary", string, **kw)


def selection(name: str, string: str, options: tuple[tuple[str, str], ...], **kw: Any) -> Field:
    return Field(name, "selection", string, selection=options, **kw)


def many2one(name: str, string: str, relation: str, **kw: Any) -> Field:
    return Field(name, "many2one", string, relation=relation, **kw)


def one2many(name: str, string: str, relation: str, inverse_name: str, **kw: Any) -> Field:
    return Field(
        name, "one2many", string, relation=relation, inverse_name=inverse_name, store=False, **kw
    )


def many2many(
    name: str, string: str, relation: str, table: str, column1: str, column2: str, **kw: Any
) -> Field:
    return Field(
        name,
        "many2many",
        string,
        relation=relation,
        relation_table=table,
        column1=column1,
        column2=column2,
        store=False,
        **kw,
    )


def log_access_fields() -> list[Field]:
    """The four fields every Odoo model with ``_log_access`` has."""
    return [
        many2one("create_uid", "Created by", "res.users", readonly=True),
        datetime("create_date", "Created on", readonly=True),
        many2one("write_uid", "Last Updated by", "res.users", readonly=True),
        datetime("write_date", "Last Updated on", readonly=True),
    ]


def to_read_value(fld: Field, value: Any) -> Any:
    """A column value as ``read`` answers it (False for empty, dates as strings)."""
    if fld.type in ("char", "text", "html", "selection"):
        if fld.translate and isinstance(value, dict):
            value = value.get("en_US") or next(iter(value.values()), None)
        return False if value is None else value
    if fld.type == "boolean":
        return bool(value)
    if fld.type == "integer":
        return int(value or 0)
    if fld.type in ("float", "monetary"):
        return float(value or 0.0)
    if fld.type == "datetime":
        if isinstance(value, dt.datetime):
            return value.replace(microsecond=0, tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
        return value or False
    if fld.type == "date":
        if isinstance(value, dt.date):
            return value.strftime("%Y-%m-%d")
        return value or False
    if fld.type == "binary":
        if isinstance(value, bytes | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii") if value else False
        return value or False
    if value is None:
        return False
    return value


def to_column_value(fld: Field, value: Any) -> Any:
    """An RPC value as the column stores it (False means NULL, as in Odoo)."""
    if fld.type == "boolean":
        return bool(value)
    if value is False or value is None:
        return None
    if fld.type == "integer":
        return int(value)
    if fld.type in ("float", "monetary"):
        return float(value)
    if fld.type == "many2one":
        if isinstance(value, list | tuple):  # [id, name] as read returns it
            value = value[0]
        return int(value)
    if fld.type in ("char", "text", "html", "selection"):
        text_value = str(value)
        if fld.type == "char":
            text_value = text_value.strip()  # Char fields trim by default
        return text_value
    if fld.type == "datetime":
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("T", " ")[:19])
        return value
    if fld.type == "date":
        if isinstance(value, str):
            return dt.date.fromisoformat(value[:10])
        return value
    return value


def now_utc() -> dt.datetime:
    """``fields.Datetime.now()``: naive UTC, whole seconds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# The magic fields every model has (with ``log_access_fields`` when it logs access).
ID_FIELD = integer("id", "ID", readonly=True)
DISPLAY_NAME_FIELD = char(
    "display_name", "Display Name", store=False, readonly=True, searchable_computed=True
)
