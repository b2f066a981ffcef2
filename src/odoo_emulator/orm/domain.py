"""Odoo search domains to SQL.

A domain is a list in prefix notation: leaves ``(field, operator, value)`` combined with
``'&'``, ``'|'`` (binary) and ``'!'`` (unary); consecutive terms are implicitly and-ed. The
semantics follow Odoo's ``expression.py``: ``False`` compares as NULL (``('f', '=', False)``
is ``f IS NULL``), negative operators also match NULL, ``like``/``ilike`` wrap the value in
``%``, ``=like``/``=ilike`` take it as the pattern, dotted paths go through many2one fields,
``_inherits`` fields (res.users' ``name``) are searched on the parent record.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from psycopg import sql

from odoo_emulator.orm.fields import Field

if TYPE_CHECKING:
    from odoo_emulator.orm.search import Searching

TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)
OPERATORS = frozenset(
    {
        "=",
        "!=",
        "<>",
        "<",
        ">",
        "<=",
        ">=",
        "=?",
        "in",
        "not in",
        "like",
        "not like",
        "ilike",
        "not ilike",
        "=like",
        "=ilike",
        "not =like",
        "not =ilike",
        "child_of",
        "parent_of",
        "any",
        "not any",
    }
)
NEGATIVE = frozenset({"!=", "<>", "not in", "not like", "not ilike", "not =like", "not =ilike"})
TRUE_SQL = sql.SQL("TRUE")
FALSE_SQL = sql.SQL("FALSE")

_alias_counter = itertools.count(1)


def _is_leaf(term: Any) -> bool:
    return isinstance(term, list | tuple) and len(term) == 3


def normalize(domain: Any) -> list[Any]:
    """Odoo's ``normalize_domain``: make the implicit '&' explicit, check the arity."""
    if domain is None or domain is False:
        return []
    if not isinstance(domain, list | tuple):
        raise ValueError(f"Invalid domain {domain!r}")
    result: list[Any] = []
    expected = 1
    for token in domain:
        if expected == 0:
            result[0:0] = ["&"]
            expected = 1
        if isinstance(token, str) and token in ("&", "|"):
            expected += 1
        elif isinstance(token, str) and token == "!":
            pass
        elif _is_leaf(token):
            expected -= 1
        else:
            raise ValueError(f"Invalid leaf {token!r}")
        result.append(token)
    if domain and expected != 0:
        raise ValueError(f"Domain {list(domain)!r} is syntactically not correct.")
    return result


def mentions_field(domain: Sequence[Any], name: str) -> bool:
    """Whether a leaf of ``domain`` is on ``name`` (the ``active_test`` rule)."""
    return any(_is_leaf(term) and str(term[0]).split(".")[0] == name for term in domain or ())


class DomainCompiler:
    """Compiles domains of one environment (model lookups go through it)."""

    def __init__(self, models: Mapping[str, type[Searching]]) -> None:
        self.models = models

    def compile(self, model: type[Searching], domain: Sequence[Any], alias: str) -> sql.Composable:
        tokens = normalize(list(domain))
        if not tokens:
            return TRUE_SQL
        position = 0

        def parse() -> sql.Composable:
            nonlocal position
            token = tokens[position]
            position += 1
            if isinstance(token, str) and token == "!":
                return sql.SQL("(NOT ({}))").format(parse())
            if isinstance(token, str) and token in ("&", "|"):
                left = parse()
                right = parse()
                joiner = " AND " if token == "&" else " OR "
                return sql.SQL("({})").format(sql.SQL(joiner).join([left, right]))
            return self.leaf(model, token, alias)

        result = parse()
        return result

    # -- leaves -------------------------------------------------------------------------------

    def leaf(self, model: type[Searching], leaf: Any, alias: str) -> sql.Composable:
        left, operator, value = leaf
        if tuple(leaf) == TRUE_LEAF or (left is True and operator == "=" and value is True):
            return TRUE_SQL
        if tuple(leaf) == FALSE_LEAF:
            return FALSE_SQL
        if not isinstance(operator, str) or operator.lower() not in OPERATORS:
            raise ValueError(f"Invalid leaf {tuple(leaf)!r}")
        operator = operator.lower()
        if operator == "<>":
            operator = "!="
        if not isinstance(left, str):
            raise ValueError(f"Invalid leaf {tuple(leaf)!r}")
        path = left.split(".")
        fld = model.field_or_id(path[0])
        if fld is None:
            raise ValueError(f"Invalid field {model._name}.{path[0]} in leaf {tuple(leaf)!r}")
        column = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(fld.name))

        if operator == "=?":
            if value is False or value is None or value == [] or value == "":
                return TRUE_SQL
            operator = "="

        if fld.delegated_through:
            # _inherits: search the parent record, then follow the many2one.
            parent_field = model._fields[fld.delegated_through]
            assert parent_field.relation is not None
            parent = self.models[parent_field.relation]
            sub = self.subquery(parent, [(left, operator, value)], active_test=False)
            return sql.SQL("{}.{} IN ({})").format(
                sql.Identifier(alias), sql.Identifier(parent_field.name), sub
            )

        if len(path) > 1:
            if fld.type not in ("many2one", "one2many", "many2many"):
                raise ValueError(f"Invalid field {model._name}.{left} in leaf {tuple(leaf)!r}")
            assert fld.relation is not None
            comodel = self.models[fld.relation]
            sub = self.subquery(comodel, [(".".join(path[1:]), operator, value)], active_test=False)
            return self.relational_in(model, fld, alias, sub, negate=False)

        if operator in ("child_of", "parent_of"):
            return self.hierarchy(model, fld, alias, operator, value)
        if operator in ("any", "not any"):
            assert fld.relation is not None
            comodel = self.models[fld.relation]
            sub = self.subquery(comodel, value, active_test=False)
            return self.relational_in(model, fld, alias, sub, negate=operator == "not any")

        if fld.type == "many2one":
            return self.many2one_leaf(model, fld, alias, column, operator, value)
        if fld.type in ("one2many", "many2many"):
            return self.x2many_leaf(model, fld, alias, operator, value)
        if not fld.store and not fld.name == "id":
            return model.search_computed(self, fld, alias, operator, value)
        if fld.translate:
            column = sql.SQL("({}->>'en_US')").format(column)
        return self.scalar(fld, column, operator, value)

    def scalar(
        self, fld: Field | None, column: sql.Composable, operator: str, value: Any
    ) -> sql.Composable:
        is_bool = fld is not None and fld.type == "boolean"
        if operator in ("in", "not in"):
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            has_null = any(v is False or v is None for v in values) and not is_bool
            concrete = [v for v in values if not (v is False or v is None) or is_bool]
            if is_bool:
                concrete = [bool(v) for v in values]
            parts: list[sql.Composable] = []
            if concrete:
                cond = sql.SQL("{} = ANY({})").format(column, sql.Literal(concrete))
                if is_bool and False in concrete:
                    cond = sql.SQL("({} OR {} IS NULL)").format(cond, column)
                parts.append(cond)
            if has_null:
                parts.append(sql.SQL("{} IS NULL").format(column))
            positive = sql.SQL("({})").format(sql.SQL(" OR ").join(parts)) if parts else FALSE_SQL
            if operator == "in":
                return positive
            if not concrete and not has_null:
                return TRUE_SQL
            if has_null or (is_bool and False in concrete):
                return sql.SQL("(NOT {})").format(positive)
            return sql.SQL("(NOT COALESCE({}, FALSE))").format(positive)

        if value is False or value is None:
            if is_bool and operator in ("=", "!="):
                cond = sql.SQL("({c} IS NULL OR {c} = FALSE)").format(c=column)
                return cond if operator == "=" else sql.SQL("({} = TRUE)").format(column)
            if operator == "=":
                return sql.SQL("{} IS NULL").format(column)
            if operator == "!=":
                return sql.SQL("{} IS NOT NULL").format(column)
        if is_bool and operator in ("=", "!="):
            truth = bool(value)
            if (operator == "=") == truth:
                return sql.SQL("({} = TRUE)").format(column)
            return sql.SQL("({c} IS NULL OR {c} = FALSE)").format(c=column)

        if operator in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
            pattern = str(value)
            if not operator.startswith("="):
                pattern = f"%{pattern}%"
            sql_op = "ILIKE" if "ilike" in operator else "LIKE"
            cond = sql.SQL("({}::text {} {})").format(column, sql.SQL(sql_op), sql.Literal(pattern))
            if operator.startswith("not"):
                if not str(value):
                    # ('f', 'not ilike', '') matches nothing, as in Odoo.
                    return FALSE_SQL
                return sql.SQL("({c} IS NULL OR NOT {cond})").format(c=column, cond=cond)
            if not operator.startswith("=") and not str(value):
                # ('f', 'ilike', '') matches every row, NULL included.
                return TRUE_SQL
            return cond
        if operator in ("not =like", "not =ilike"):
            sql_op = "ILIKE" if "ilike" in operator else "LIKE"
            cond = sql.SQL("({}::text {} {})").format(
                column, sql.SQL(sql_op), sql.Literal(str(value))
            )
            return sql.SQL("({c} IS NULL OR NOT {cond})").format(c=column, cond=cond)
        if operator == "!=":
            return sql.SQL("({c} != {v} OR {c} IS NULL)").format(c=column, v=sql.Literal(value))
        if operator in ("=", "<", ">", "<=", ">="):
            return sql.SQL("{} {} {}").format(column, sql.SQL(operator), sql.Literal(value))
        raise ValueError(f"Invalid operator {operator!r}")

    def subquery(
        self, model: type[Searching], domain: Sequence[Any], *, active_test: bool
    ) -> sql.Composable:
        alias = f"{model._table}__{next(_alias_counter)}"
        domain = list(domain)
        if active_test and "active" in model._fields and not mentions_field(domain, "active"):
            domain = [("active", "=", True), *domain]
        where = self.compile(model, domain, alias)
        return sql.SQL("SELECT {a}.id FROM {t} AS {a} WHERE {w}").format(
            a=sql.Identifier(alias), t=sql.Identifier(model._table), w=where
        )

    def relational_in(
        self, model: type[Searching], fld: Field, alias: str, sub: sql.Composable, *, negate: bool
    ) -> sql.Composable:
        """Rows whose relational ``fld`` points at a row of ``sub``."""
        keyword = sql.SQL("NOT IN" if negate else "IN")
        if fld.type == "many2one":
            cond = sql.SQL("{}.{} {} ({})").format(
                sql.Identifier(alias), sql.Identifier(fld.name), keyword, sub
            )
            if negate:
                return sql.SQL("({} OR {}.{} IS NULL)").format(
                    cond, sql.Identifier(alias), sql.Identifier(fld.name)
                )
            return cond
        if fld.type == "one2many":
            assert fld.relation and fld.inverse_name
            comodel = self.models[fld.relation]
            return sql.SQL(
                "{}.id {} (SELECT {} FROM {} WHERE id IN ({}) AND {} IS NOT NULL)"
            ).format(
                sql.Identifier(alias),
                keyword,
                sql.Identifier(fld.inverse_name),
                sql.Identifier(comodel._table),
                sub,
                sql.Identifier(fld.inverse_name),
            )
        assert fld.relation_table and fld.column1 and fld.column2
        return sql.SQL("{}.id {} (SELECT {} FROM {} WHERE {} IN ({}))").format(
            sql.Identifier(alias),
            keyword,
            sql.Identifier(fld.column1),
            sql.Identifier(fld.relation_table),
            sql.Identifier(fld.column2),
            sub,
        )

    def many2one_leaf(
        self,
        model: type[Searching],
        fld: Field,
        alias: str,
        column: sql.Composable,
        operator: str,
        value: Any,
    ) -> sql.Composable:
        assert fld.relation is not None
        values = value if isinstance(value, list | tuple) else [value]
        if isinstance(value, str) or (
            operator in ("in", "not in") and any(isinstance(v, str) for v in values)
        ):
            # A name instead of ids: Odoo searches the comodel by name.
            comodel = self.models[fld.relation]
            name_operator = {"in": "in", "not in": "in", "!=": "="}.get(operator, operator)
            if name_operator.startswith("not "):
                name_operator = name_operator[4:]
            sub = self.subquery(
                comodel, [(comodel._rec_name, name_operator, value)], active_test=True
            )
            negate = operator in ("not in", "!=") or operator.startswith("not ")
            return self.relational_in(model, fld, alias, sub, negate=negate)
        return self.scalar(fld, column, operator, value)

    def x2many_leaf(
        self, model: type[Searching], fld: Field, alias: str, operator: str, value: Any
    ) -> sql.Composable:
        assert fld.relation is not None
        comodel = self.models[fld.relation]
        if value is False or value is None or value == []:
            # ('child_ids', '=', False): no related record at all.
            sub = self.subquery(comodel, [], active_test=False)
            exists = self.relational_in(model, fld, alias, sub, negate=False)
            if operator in ("=", "in"):
                return sql.SQL("(NOT {})").format(exists)
            return exists
        if isinstance(value, str) or (
            isinstance(value, list | tuple) and any(isinstance(v, str) for v in value)
        ):
            name_operator = operator[4:] if operator.startswith("not ") else operator
            if name_operator == "!=":
                name_operator = "="
            sub = self.subquery(
                comodel, [(comodel._rec_name, name_operator, value)], active_test=True
            )
        else:
            ids = list(value) if isinstance(value, list | tuple) else [value]
            sub = sql.SQL("SELECT unnest({}::int[])").format(sql.Literal([int(i) for i in ids]))
        negate = operator in NEGATIVE
        return self.relational_in(model, fld, alias, sub, negate=negate)

    def hierarchy(
        self, model: type[Searching], fld: Field, alias: str, operator: str, value: Any
    ) -> sql.Composable:
        """``child_of``/``parent_of`` over the model's ``parent_id`` (recursive CTE)."""
        if "parent_id" not in model._fields:
            raise ValueError(f"Invalid leaf {(fld.name, operator, value)!r}")
        ids = value if isinstance(value, list | tuple) else [value]
        ids_literal = sql.Literal([int(i) for i in ids if i])
        table = sql.Identifier(model._table)
        if operator == "child_of":
            tree = sql.SQL(
                "WITH RECURSIVE tree(id) AS (SELECT id FROM {t} WHERE id = ANY({ids})"
                " UNION SELECT c.id FROM {t} c JOIN tree ON c.parent_id = tree.id)"
                " SELECT id FROM tree"
            ).format(t=table, ids=ids_literal)
        else:
            tree = sql.SQL(
                "WITH RECURSIVE tree(id, parent_id) AS (SELECT id, parent_id FROM {t}"
                " WHERE id = ANY({ids}) UNION SELECT p.id, p.parent_id FROM {t} p"
                " JOIN tree ON p.id = tree.parent_id) SELECT id FROM tree"
            ).format(t=table, ids=ids_literal)
        target = sql.SQL("{}.{}").format(
            sql.Identifier(alias), sql.Identifier("id" if fld.name == "id" else fld.name)
        )
        return sql.SQL("{} IN ({})").format(target, tree)
