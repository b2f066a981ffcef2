"""How a model method is called over RPC (Odoo's ``odoo/api.py``).

A method is callable over RPC when it carries ``_rpc_api``, which says how ``call_kw`` binds
its arguments, as Odoo's ``@api.model`` / ``@api.model_create_multi`` / record methods do:
``model`` methods take the arguments as given, ``model_create`` takes one dict (answering an
id) or a list (answering ids), record methods take the ids first. It may depend on the
version played (``api_by_version``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from odoo_emulator.versions import OdooVersion

FnT = TypeVar("FnT", bound=Callable[..., Awaitable[Any]])


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
