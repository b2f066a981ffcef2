"""The composition root: what each package provides to those below it, connected once.

Lower packages declare hooks (``core/hooks.py``); the packages above them connect handlers
here. Every entry point (the API's ``create_app``, the CLI, workers, tests) calls
:func:`wire` before it does anything else; calling it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from saas_platform.core.lifecycle import Lifecycle

_wired = False


def wire() -> None:
    global _wired
    if _wired:
        return
    _wired = True
    _wire_flows()


# -- flows: instances' long operations, answered by backups -------------------------------------


def _wire_flows() -> None:
    from saas_platform.backups.pre_delete import back_up_before_deletion
    from saas_platform.instances import flows as instance_flows

    # A deletion archives the database before it drops it.
    instance_flows.PRE_DELETE_BACKUP.connect(back_up_before_deletion)


def lifecycles() -> list[Lifecycle[Any, Any]]:
    """Every transition table, each with its generated page in docs/ (``saas docs
    lifecycles``; a test fails when one is stale). A new table joins with one line here."""
    from saas_platform.backups.lifecycle import BACKUP, RESTORE
    from saas_platform.instances.hosts.lifecycle import HOST, STANDBY
    from saas_platform.instances.lifecycle import INSTANCE

    return [INSTANCE, HOST, STANDBY, BACKUP, RESTORE]
