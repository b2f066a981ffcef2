from __future__ import annotations

from pathlib import Path

import pytest

from saas_server.core.errors import Conflict
from saas_server.instances.lifecycle import TENANT_STATUS
from saas_server.instances.lifecycle import TRANSITIONS as INSTANCE_TRANSITIONS
from saas_server.instances.models import InstanceStatus
from saas_server.tenants.lifecycle import TENANT_LIFECYCLE, TRANSITIONS, Action, follow_instance
from saas_server.tenants.models import Tenant, TenantStatus

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tenant-lifecycle.md"


def test_the_documented_diagram_is_generated_from_the_table() -> None:
    assert TENANT_LIFECYCLE.mermaid() in DOCS.read_text()


def _tenant(status: TenantStatus) -> Tenant:
    return Tenant(name="Acme", subdomain="acme", status=status.value)


@pytest.mark.parametrize(
    ("source", "action", "target"),
    [(source, action, target) for (source, action), target in INSTANCE_TRANSITIONS.items()],
)
def test_the_tenant_follows_every_transition_of_its_instance(
    source: InstanceStatus, action: object, target: InstanceStatus
) -> None:
    """What the instance table allows, the tenant table follows: no instance transition can
    leave a production tenant behind, or fail on the tenant's side."""
    tenant = _tenant(TenantStatus(TENANT_STATUS[source]))
    follow_instance(tenant, TENANT_STATUS[target])
    assert tenant.status == TENANT_STATUS[target]


def test_each_move_of_the_tenant_has_one_action() -> None:
    """``follow_instance`` picks the action from (status, target): it must be unique."""
    moves = [(source, target) for (source, _action), target in TRANSITIONS.items()]
    assert len(moves) == len(set(moves))


@pytest.mark.parametrize("status", list(TenantStatus))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair_outside_the_table_is_a_conflict(status: TenantStatus, action: Action) -> None:
    tenant = _tenant(status)
    if (status, action) in TRANSITIONS:
        assert TENANT_LIFECYCLE.apply(tenant, action) == TRANSITIONS[(status, action)]
        assert tenant.status == TRANSITIONS[(status, action)].value
    else:
        with pytest.raises(Conflict) as caught:
            TENANT_LIFECYCLE.apply(tenant, action)
        assert caught.value.status_code == 409
        assert caught.value.details["status"] == status.value
        assert tenant.status == status.value


def test_following_an_instance_where_the_table_does_not_go_is_refused() -> None:
    tenant = _tenant(TenantStatus.DELETED)
    with pytest.raises(Conflict) as caught:
        follow_instance(tenant, TenantStatus.READY.value)
    assert caught.value.details == {
        "status": "deleted",
        "target": "ready",
        "allowed_actions": [],
    }
    assert tenant.status == TenantStatus.DELETED.value


def test_a_tenant_is_created_provisioning_and_ends_deleted() -> None:
    assert TENANT_LIFECYCLE.initial == (TenantStatus.PROVISIONING,)
    assert TENANT_LIFECYCLE.final == (TenantStatus.DELETED,)
    assert not [key for key in TRANSITIONS if key[0] is TenantStatus.DELETED]
