"""The ``object`` service: ``execute_kw`` and ``execute`` (odoo-protocol.md sections 2, 3, 11).

Order of checks, as in Odoo: ``int(uid)``, the credentials (AccessDenied), the method of the
service (NameError), then per call: on 17.0 a private name (``_x``, ``init``) is refused by
name before the model is looked up; from 18.0 the model comes first ("Object m doesn't exist")
and the method is looked up before being judged (section 11.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import psycopg

from odoo_emulator import security
from odoo_emulator.errors import AccessError, UserError, ValidationError
from odoo_emulator.orm.api import rpc_kind
from odoo_emulator.orm.env import Env
from odoo_emulator.orm.model import BaseModel
from odoo_emulator.orm.models import models_for
from odoo_emulator.runtime import Emulator, RequestInfo
from odoo_emulator.versions import OdooVersion

PRIVATE_NAME = re.compile(r"^(_.*|init)$")

# ``_sql_constraints`` messages, by constraint name (Odoo's translate_sql_constraint).
SQL_CONSTRAINT_MESSAGES = {
    "res_users_login_key": "You can not have two users with the same login!",
    "ir_config_parameter_key_uniq": "Key must be unique.",
    "res_partner_check_name": "Contacts require a name",
    "res_company_name_uniq": "The company name must be unique!",
    "res_lang_name_uniq": "The name of the language must be unique!",
    "res_lang_code_uniq": "The code of the language must be unique!",
    "res_lang_url_code_uniq": "The URL code of the language must be unique!",
    "res_currency_unique_name": "The currency code must be unique!",
}


def check_method_name_17(name: str) -> None:
    if PRIVATE_NAME.match(name):
        raise AccessError(f"Private methods (such as {name}) cannot be called remotely.")


def public_method(model: BaseModel, name: str, version: OdooVersion) -> Any:
    """The public method, or Odoo's error for a missing or private one."""
    method = getattr(type(model), name, None)
    kind = rpc_kind(method, version) if method is not None else None
    if not version.private_check_by_name_only:
        # 18.0 get_public_method: missing first, then private.
        exists = kind is not None or name in model._private_methods or name == "init"
        exists = exists or name in model._unimplemented_methods
        if not exists:
            raise AttributeError(f"The method '{model._name}.{name}' does not exist")
        if name.startswith("_") or name == "init":
            raise AccessError(
                f"Private methods (such as '{model._name}.{name}') cannot be called remotely."
            )
    if kind is None:
        if name in model._unimplemented_methods:
            raise NotImplementedError(
                f"The Odoo emulator does not implement {model._name}.{name}()"
            )
        if version.private_check_by_name_only:
            raise AttributeError(f"The method '{name}' does not exist on the model '{model._name}'")
        raise AttributeError(f"The method '{model._name}.{name}' does not exist")
    return method


async def call_kw(model: BaseModel, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """``odoo.api.call_kw``: bind the arguments as the method's API says."""
    version = model.env.version
    method = public_method(model, name, version)
    kind = rpc_kind(method, version)
    positional = tuple(args)  # Odoo's IndexError reads "tuple index out of range"
    kwargs = dict(kwargs)
    context = kwargs.pop("context", None)
    recs = model.with_env(model.env.with_context(context or {}))
    if kind == "model":
        return await method(recs, *positional, **kwargs)
    if kind == "model_create":
        vals = positional[0]
        single = isinstance(vals, Mapping)
        ids = await method(recs, [vals] if single else list(vals), *positional[1:], **kwargs)
        return ids[0] if single else ids
    ids, rest = positional[0], positional[1:]
    return await method(recs.browse(ids), *rest, **kwargs)


def as_validation_error(
    models: Mapping[str, type[BaseModel]], exc: psycopg.errors.IntegrityError
) -> Exception:
    """``_as_validation_error``: PostgreSQL's refusals in Odoo's words."""
    diag = exc.diag
    model_cls = next((m for m in models.values() if m._table == diag.table_name), None)
    model_name = model_cls._name if model_cls else "unknown"
    description = model_cls._description if model_cls else "Unknown"
    if isinstance(exc, psycopg.errors.NotNullViolation):
        fld = model_cls._fields.get(diag.column_name or "") if model_cls else None
        return ValidationError(
            "The operation cannot be completed:\n"
            "- Create/update: a mandatory field is not set.\n"
            "- Delete: another model requires the record being deleted."
            " If possible, archive it instead.\n\n"
            f"Model: {description} ({model_name})\n"
            f"Field: {fld.string if fld else 'Unknown'} ({fld.name if fld else 'unknown'})\n"
        )
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return ValidationError(
            "The operation cannot be completed: another model requires the record being "
            "deleted. If possible, archive it instead.\n\n"
            f"Model: {description} ({model_name})\n"
            f"Constraint: {diag.constraint_name}\n"
        )
    message = SQL_CONSTRAINT_MESSAGES.get(diag.constraint_name or "")
    if message:
        return ValidationError(f"The operation cannot be completed: {message}")
    return ValidationError(f"The operation cannot be completed: {diag.message_primary or exc}")


async def execute_kw(
    emulator: Emulator,
    db: str,
    uid: int,
    obj: str,
    method: str,
    args: list[Any],
    kw: dict[str, Any] | None = None,
) -> Any:
    return await execute(emulator, db, uid, obj, method, *args, **(kw or {}))


async def execute(
    emulator: Emulator, db: str, uid: int, obj: str, method: str, *args: Any, **kw: Any
) -> Any:
    version = emulator.version
    if version.private_check_by_name_only:
        check_method_name_17(method)

    async def work(env: Env) -> Any:
        model = env.get(obj)
        if model is None:
            raise UserError(f"Object {obj} doesn't exist")
        return await call_kw(model, method, list(args), kw)

    try:
        return await emulator.run_as(db, uid, work)
    except psycopg.errors.IntegrityError as exc:
        raise as_validation_error(models_for(version), exc) from exc


async def dispatch(emulator: Emulator, method: str, params: list[Any], request: RequestInfo) -> Any:
    db, uid, password = params[0], int(params[1]), params[2]
    await security.check(emulator, db, uid, password, request)
    if method == "execute":
        bound: Any = partial(execute, emulator)
    elif method == "execute_kw":
        bound = partial(execute_kw, emulator)
    else:
        raise NameError(f"Method not available {method}")
    return await bound(db, uid, *params[3:])
