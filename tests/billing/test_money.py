"""Money is never a float: not in a column, not in a schema, not in the OpenAPI document."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import Float, Numeric

from saas_server.billing import models, schemas
from saas_server.core.db import Base


def _billing_tables() -> list[Any]:
    return [
        mapper.local_table
        for mapper in Base.registry.mappers
        if mapper.class_.__module__ == models.__name__
    ]


def test_no_billing_column_is_a_float_and_amounts_are_integers() -> None:
    tables = _billing_tables()
    assert {t.name for t in tables} >= {"plans", "subscriptions", "invoices", "invoice_lines"}
    amounts = 0
    for table in tables:
        for column in table.columns:
            assert not isinstance(column.type, Float | Numeric), (table.name, column.name)
            if column.name.endswith("_cents"):
                amounts += 1
                assert column.type.python_type is int, (table.name, column.name)
    assert amounts >= 9


def _annotations(annotation: Any) -> list[Any]:
    found = [annotation]
    for argument in typing.get_args(annotation):
        found.extend(_annotations(argument))
    return found


def test_no_billing_schema_field_is_a_float() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(schemas, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == schemas.__name__
    ]
    assert len(classes) > 10
    for cls in classes:
        for name, field in cls.model_fields.items():
            for annotation in _annotations(field.annotation):
                assert annotation is not float, (cls.__name__, name)
                assert not isinstance(
                    annotation, types.GenericAlias
                ) or float not in typing.get_args(annotation), (cls.__name__, name)
            if name.endswith("_cents"):
                assert int in _annotations(field.annotation), (cls.__name__, name)


def _numbers(node: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "number":
            found.append(path)
        for key, value in node.items():
            found.extend(_numbers(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_numbers(value, f"{path}/{index}"))
    return found


async def test_the_billing_api_documents_no_float(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    billing_paths = {
        path: item
        for path, item in spec["paths"].items()
        if "billing" in path or "subscriptions" in path or "plans" in path or "invoices" in path
    }
    assert len(billing_paths) >= 10
    assert _numbers(billing_paths) == []
    names = [
        n
        for n in spec["components"]["schemas"]
        if n.startswith(("Plan", "Invoice", "Subscription", "Seat", "Price", "Billing"))
    ]
    assert names
    assert _numbers({n: spec["components"]["schemas"][n] for n in names}) == []
