"""The environment of one call: connection (in its transaction), user, context, version."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from odoo_emulator.orm.models import models_for
from odoo_emulator.storage import Registry
from odoo_emulator.versions import OdooVersion

if TYPE_CHECKING:
    from odoo_emulator.orm.model import BaseModel

SUPERUSER_ID = 1


@dataclass
class _GroupCache:
    uid: int | None = None
    groups: frozenset[str] | None = None


@dataclass
class Env:
    conn: psycopg.AsyncConnection[Any]
    registry: Registry
    version: OdooVersion
    filestore: Path
    uid: int
    context: dict[str, Any] = field(default_factory=dict)
    su: bool = False
    _group_cache: _GroupCache = field(default_factory=_GroupCache)

    def __post_init__(self) -> None:
        # Odoo: an environment of user 1 (__system__) is a superuser environment.
        if self.uid == SUPERUSER_ID:
            self.su = True

    @property
    def models(self) -> dict[str, type[BaseModel]]:
        return models_for(self.version)

    def get(self, model_name: str) -> BaseModel | None:
        cls = self.models.get(model_name)
        if cls is None or (cls._module != "base" and cls._module not in self.registry.installed):
            return None
        return cls(self)

    def __getitem__(self, model_name: str) -> BaseModel:
        model = self.get(model_name)
        if model is None:
            raise KeyError(model_name)
        return model

    def sudo(self) -> Env:
        return replace(self, su=True)

    def with_context(self, context: dict[str, Any]) -> Env:
        return replace(self, context=dict(context))

    def with_user(self, uid: int) -> Env:
        return replace(self, uid=uid, su=uid == SUPERUSER_ID, _group_cache=_GroupCache())

    async def groups(self) -> frozenset[str]:
        """The xml ids of the user's groups (``base.group_system``...)."""
        cache = self._group_cache
        if cache.groups is None or cache.uid != self.uid:
            cur = await self.conn.execute(
                "SELECT d.module || '.' || d.name FROM res_groups_users_rel r"
                " JOIN ir_model_data d ON d.model = 'res.groups' AND d.res_id = r.gid"
                " WHERE r.uid = %s",
                (self.uid,),
            )
            cache.groups = frozenset(row[0] for row in await cur.fetchall())
            cache.uid = self.uid
        return cache.groups

    async def has_group(self, xmlid: str) -> bool:
        return xmlid in await self.groups()

    async def is_system(self) -> bool:
        return self.su or await self.has_group("base.group_system")

    async def ref(self, xmlid: str) -> int | None:
        module, name = xmlid.split(".", 1)
        cur = await self.conn.execute(
            "SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s", (module, name)
        )
        row = await cur.fetchone()
        return int(row[0]) if row else None
