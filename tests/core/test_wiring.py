"""The composition root (saas_server/wiring.py) hands core what the domains provide."""

from __future__ import annotations

import pytest

from saas_server import wiring
from saas_server.auth.principal_cache import PrincipalCache, principal_cache_of
from saas_server.backups.storage import LocalStorage
from saas_server.core import runtime as core_runtime
from saas_server.core.hooks import HookNotConnected
from saas_server.core.jobs import jobs_app
from saas_server.core.runtime import Runtime
from saas_server.core.schedule import RETRY_STALLED_TASK, schedule
from saas_server.core.settings import Settings
from tests.fixtures.settings import TEST_SECRET_KEY


def test_wiring_twice_changes_nothing() -> None:
    wiring.wire()
    parts = core_runtime.wired_parts()
    wiring.wire()
    assert core_runtime.wired_parts() is parts is wiring.RUNTIME_PARTS


def test_a_runtime_of_an_unwired_process_says_so(settings: Settings) -> None:
    saved = core_runtime._wired_parts
    core_runtime._wired_parts = None
    try:
        with pytest.raises(HookNotConnected, match="wire"):
            Runtime(settings, database_url="postgresql://x/y", secret_key=TEST_SECRET_KEY)
    finally:
        core_runtime._wired_parts = saved


async def test_every_scheduled_task_is_registered(runtime: Runtime) -> None:
    entries = schedule(runtime)
    assert entries[RETRY_STALLED_TASK] > 0
    assert set(wiring.schedule(runtime.settings)) <= set(entries)
    # The domains' entries and core's own (the stalled-job retry), nothing lost on the way.
    assert len(entries) == len(wiring.schedule(runtime.settings)) + 1
    missing = [name for name in entries if name not in jobs_app.tasks]
    assert not missing, f"scheduled but no task module registers them: {missing}"


async def test_the_runtime_holds_the_parts_the_domains_built(runtime: Runtime) -> None:
    assert isinstance(runtime.principal_cache, PrincipalCache)
    assert principal_cache_of(runtime) is runtime.principal_cache
    assert isinstance(runtime.backup_storage, LocalStorage)
