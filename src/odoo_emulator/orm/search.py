"""Searching: a model's domains compiled to SQL (``domain.py``), its order, and searches
on non-stored fields."""

from __future__ import annotations

import logging
import re
from typing import Any

from psycopg import sql

from odoo_emulator.orm.domain import FALSE_SQL, TRUE_SQL, DomainCompiler, mentions_field
from odoo_emulator.orm.fields import Field
from odoo_emulator.orm.recordset import RecordSet

logger = logging.getLogger(__name__)

_ORDER_SPEC = re.compile(
    r"^(\s*\"?[a-z0-9_]+\"?(\.[a-z0-9_]+)?(\s+(desc|asc))?(\s+nulls\s+(first|last))?\s*(,|$))+(?<!,)$",
    re.IGNORECASE,
)


class Searching(RecordSet):
    """Domains (the model's own conditions and ``active_test`` added), order, ids."""

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
