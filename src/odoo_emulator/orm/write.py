"""Writing: create (defaults, delegated parents, x2many commands), update and delete, on
the tables, without access checks (``model.py``'s public methods check first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.fields import Field, now_utc
from odoo_emulator.orm.read import Reading


class Writing(Reading):
    """Inserts, updates and deletes, with the hooks models override (``prepare_create``,
    ``after_create``, ``inverse_<field>``, ``options_<field>``)."""

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
            owner: Writing = self
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

    async def unlink_records(self) -> None:
        if not self.ids:
            return
        await self.conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self.table), (self.ids,)
        )
