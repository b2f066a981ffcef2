from __future__ import annotations

from pathlib import Path

import pytest

from saas_server.core.errors import Conflict
from saas_server.instances.lifecycle import TRANSITIONS, Action, mermaid, next_status
from saas_server.instances.models import InstanceStatus

DOCS = Path(__file__).resolve().parents[2] / "docs" / "instance-lifecycle.md"


def test_the_documented_diagram_is_generated_from_the_table() -> None:
    assert mermaid() in DOCS.read_text()


@pytest.mark.parametrize("status", list(InstanceStatus))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair_outside_the_table_is_a_conflict(status: InstanceStatus, action: Action) -> None:
    if (status, action) in TRANSITIONS:
        assert next_status(status.value, action) == TRANSITIONS[(status, action)]
    else:
        with pytest.raises(Conflict) as caught:
            next_status(status.value, action)
        assert caught.value.status_code == 409
        assert caught.value.details["status"] == status.value


def test_the_issue_lifecycle_is_possible() -> None:
    path = [
        (InstanceStatus.PENDING, Action.PROVISION, InstanceStatus.PROVISIONING),
        (InstanceStatus.PROVISIONING, Action.SUCCEED, InstanceStatus.READY),
        (InstanceStatus.READY, Action.STOP, InstanceStatus.STOPPED),
        (InstanceStatus.STOPPED, Action.START, InstanceStatus.READY),
        (InstanceStatus.READY, Action.DELETE, InstanceStatus.DELETING),
        (InstanceStatus.DELETING, Action.PURGE, InstanceStatus.DELETED),
        (InstanceStatus.PROVISIONING, Action.FAIL, InstanceStatus.FAILED),
        (InstanceStatus.FAILED, Action.RETRY, InstanceStatus.PENDING),
    ]
    for status, action, target in path:
        assert next_status(status.value, action) == target
