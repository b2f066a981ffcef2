"""Reading: stored columns, delegated (``_inherits``) and computed fields, many2one names
and x2many ids, as Odoo's ``read`` answers them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import sql

from odoo_emulator.errors import AccessError, MissingError
from odoo_emulator.orm import fields as F
from odoo_emulator.orm.fields import Field
from odoo_emulator.orm.search import Searching


class Reading(Searching):
    """Records' values as ``read`` answers them; models add ``compute_<field>`` methods."""

    def readable_field_names(self) -> list[str]:
        return [name for name, fld in self._fields.items() if not fld.internal]

    async def field_accessible(self, fld: Field) -> bool:
        """Odoo's field ``groups``: the superuser and the members of one of them."""
        if not fld.groups or self.env.su:
            return True
        groups = await self.env.groups()
        return any(group in groups for group in fld.groups)

    async def accessible_field_names(
        self, names: Sequence[str] | None, operation: str = "read"
    ) -> list[str]:
        """What ``read`` reads: ``names`` (AccessError when one is a field of groups the user
        is in none of, as Odoo's ``check_field_access_rights``), else every field the user
        may see."""
        if not names:
            return [
                name
                for name in self.readable_field_names()
                if await self.field_accessible(self._fields[name])
            ]
        refused = [
            name
            for name in names
            if name in self._fields and not await self.field_accessible(self._fields[name])
        ]
        if refused:
            raise AccessError(
                "The requested operation can not be completed due to security restrictions."
                f"\n\nDocument type: {self._description} ({self._name})"
                f"\nOperation: {operation}"
                f"\nUser: {self.env.uid}"
                "\nFields:\n"
                + "\n".join(
                    f"- {name} (allowed for groups "
                    + ", ".join(repr(g) for g in self._fields[name].groups)
                    + ")"
                    for name in refused
                )
            )
        return list(names)

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
