"""The backup and restore lifecycles as transition tables (core/lifecycle.py).

Every status change of a backup or a restore goes through :data:`BACKUP` or
:data:`RESTORE` (``apply``); their diagrams in docs/ are generated from these tables.
"""

from __future__ import annotations

import enum

from saas_server.backups.models import BackupStatus, RestoreStatus
from saas_server.core.lifecycle import Lifecycle

B = BackupStatus
R = RestoreStatus


class BackupAction(enum.StrEnum):
    START = "start"  # a worker starts the archive (again, after a killed worker)
    COMPLETE = "complete"  # storage holds the whole archive
    FAIL = "fail"


BACKUP: Lifecycle[BackupStatus, BackupAction] = Lifecycle(
    "backup",
    {
        (B.PENDING, BackupAction.START): B.RUNNING,
        (B.RUNNING, BackupAction.START): B.RUNNING,
        (B.RUNNING, BackupAction.COMPLETE): B.COMPLETED,
        (B.PENDING, BackupAction.FAIL): B.FAILED,
        (B.RUNNING, BackupAction.FAIL): B.FAILED,
    },
    initial=(B.PENDING,),
    final=(B.COMPLETED, B.FAILED),
    source="saas_server/backups/lifecycle.py",
    description="""\
A backup row exists from the request on; a worker takes it `running` and streams the
host's archive into storage. It is `completed` only once storage holds the whole archive
(size and SHA-256 recorded); a worker killed halfway leaves it `running`, and the next one
starts the archive again. Completed backups go when retention or their expiry removes
them (archive first, then the row); failed ones are kept a week to be seen.""",
)


class RestoreAction(enum.StrEnum):
    START = "start"  # a worker starts (or resumes) the restore flow
    COMPLETE = "complete"  # the backup's data is live and proven by a login
    ROLL_BACK = "roll_back"  # a live step failed; the previous data is back
    FAIL = "fail"  # refused before anything was touched, or the rollback failed too


RESTORE: Lifecycle[RestoreStatus, RestoreAction] = Lifecycle(
    "restore",
    {
        (R.PENDING, RestoreAction.START): R.RUNNING,
        (R.RUNNING, RestoreAction.START): R.RUNNING,
        (R.RUNNING, RestoreAction.COMPLETE): R.COMPLETED,
        (R.RUNNING, RestoreAction.ROLL_BACK): R.ROLLED_BACK,
        (R.PENDING, RestoreAction.FAIL): R.FAILED,
        (R.RUNNING, RestoreAction.FAIL): R.FAILED,
    },
    initial=(R.PENDING,),
    final=(R.COMPLETED, R.ROLLED_BACK, R.FAILED),
    source="saas_server/backups/lifecycle.py",
    description="""\
A restore runs the flow `validate -> pre_restore -> stop -> drop -> restore -> verify ->
start` (backups/restore.py), recording each step; a worker killed halfway is resumed from
the last one. A failure before `stop` touched nothing (`failed`); one after it puts the
`pre_restore` archive back (`rolled_back`), and only when that fails too does the restore
end `failed` with the instance `failed` and the `pre_restore` backup holding the old
data.""",
)
