"""The names of the hosts' maintenance tasks (``tasks.py`` registers them, ``standby.py``
defers one, ``saas_server.wiring`` schedules them): here, so none imports the other."""

from __future__ import annotations

CHECK_HOSTS_TASK = "hosts.check_all"
TEND_STANDBY_POOLS_TASK = "hosts.tend_standby_pools"
