"""Fault injection for tests of crash and failure paths (a no-op outside SAAS_ENV=test).

``SAAS_FAULTS`` maps a checkpoint name to what happens there, e.g.
``{"provision.configure": "sleep:30", "restore.restore": "fail"}``. The flow runner
(core/flows.py) calls ``await checkpoint(settings, "<flow>.<step>")`` after each step's work,
before the step is recorded.
"""

from __future__ import annotations

import asyncio

from saas_server.core.settings import Settings


class InjectedFault(RuntimeError):
    pass


async def checkpoint(settings: Settings, name: str) -> None:
    if settings.env != "test" or not settings.faults:
        return
    action = settings.faults.get(name)
    if action is None:
        return
    if action == "fail":
        raise InjectedFault(f"fault injected at {name}")
    if action.startswith("sleep:"):
        await asyncio.sleep(float(action.split(":", 1)[1]))
