"""The ``common`` service (odoo-protocol.md section 2): version, about, login, authenticate.

Each ``exp_*`` takes the caller's positional arguments after the two bound ones, so a wrong
argument count raises Python's own TypeError, as in Odoo.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from odoo_emulator import security
from odoo_emulator.errors import AccessDenied
from odoo_emulator.runtime import Emulator, RequestInfo

ABOUT = "See http://openerp.com"


async def exp_version(emulator: Emulator, request: RequestInfo) -> dict[str, Any]:
    return emulator.version.common_version()


async def exp_about(emulator: Emulator, request: RequestInfo, extended: bool = False) -> Any:
    return [ABOUT, emulator.version.server_version] if extended else ABOUT


async def exp_login(
    emulator: Emulator, request: RequestInfo, db: str, login: str, password: str
) -> Any:
    return await exp_authenticate(emulator, request, db, login, password, None)


async def exp_authenticate(
    emulator: Emulator,
    request: RequestInfo,
    db: str,
    login: str,
    password: str,
    user_agent_env: dict[str, Any] | None,
) -> Any:
    # Only bad credentials answer False; an unknown or closed database raises (11.1).
    # A ``base_location`` in user_agent_env moves web.base.url as a web login does.
    base_location = (user_agent_env or {}).get("base_location") or None
    if base_location:
        request = RequestInfo(request.remote_addr, str(base_location))
    try:
        return await security.authenticate(emulator, db, login, password, request)
    except AccessDenied:
        return False


async def exp_set_loglevel(
    emulator: Emulator, request: RequestInfo, loglevel: str, logger: str | None = None
) -> bool:
    return True


METHODS: dict[str, Callable[..., Awaitable[Any]]] = {
    "version": exp_version,
    "about": exp_about,
    "login": exp_login,
    "authenticate": exp_authenticate,
    "set_loglevel": exp_set_loglevel,
}


async def dispatch(emulator: Emulator, method: str, params: list[Any], request: RequestInfo) -> Any:
    function = METHODS.get(method)
    if function is None:
        raise Exception(f"Method not found: {method}")
    bound: Any = partial(function, emulator, request)
    return await bound(*params)
