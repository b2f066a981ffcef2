"""What every model is: its definition (name, table, fields) and a set of records in an
environment (Odoo's ``BaseModel`` basics: ``browse``, ``with_env``, ``sudo``).

The layers of ``BaseModel`` build on this one: ``access.py`` (access rights), ``search.py``
(domains and order), ``read.py``, ``write.py``, and ``model.py`` (the public RPC methods).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import psycopg
from psycopg import sql

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.fields import DISPLAY_NAME_FIELD, ID_FIELD, Field

if TYPE_CHECKING:
    from odoo_emulator.orm.env import Env


class RecordSet:
    """A model's definition (class attributes) and some of its records in an environment."""

    _name: ClassVar[str]
    _description: ClassVar[str]
    _table: ClassVar[str]
    _order: ClassVar[str] = "id"
    _rec_name: ClassVar[str] = "name"
    _log_access: ClassVar[bool] = True
    # The module that defines the model: it exists only while that module is installed.
    _module: ClassVar[str] = "base"
    # Filled by __init_subclass__ from _field_list (+ the magic fields).
    _fields: ClassVar[dict[str, Field]] = {}
    _field_list: ClassVar[list[Field]] = []
    # Defaults applied by create (a value, or a callable taking the env).
    _defaults: ClassVar[dict[str, Any]] = {}

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

    def browse(self, ids: Any) -> Self:
        """Odoo's ``browse``: an id or an iterable of ids, taken as given (a bad value fails
        when used, after Python has bound the method's arguments, as in Odoo)."""
        if isinstance(ids, int) and not isinstance(ids, bool):
            id_list = [ids]
        elif not ids:
            id_list = []
        else:
            id_list = list(ids)
        return type(self)(self.env, id_list)

    def with_env(self, env: Env) -> Self:
        return type(self)(env, self.ids)

    def sudo(self) -> Self:
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
