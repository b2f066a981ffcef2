"""tenants/rules.py: the one answer to "who manages which tenant"."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from saas_server.core.runtime import Runtime
from saas_server.tenants.models import Tenant
from saas_server.tenants.rules import managed_tenant_ids, manages, owns
from saas_server.users import service as users
from tests.audit.support import make_tenant


async def new_user(runtime: Runtime, email: str) -> uuid.UUID:
    async with runtime.db.transaction() as session:
        user = await users.create_user(session, email=email, password=None)
        return user.id


def test_owners_and_admins_manage_members_do_not() -> None:
    assert manages("owner") and manages("admin")
    assert not manages("member") and not manages(None)
    assert owns("owner") and not owns("admin") and not owns(None)


async def test_managed_tenants_are_the_owned_and_administered_live_ones(
    runtime: Runtime,
) -> None:
    owner = await new_user(runtime, "owner@example.com")
    admin = await new_user(runtime, "admin@example.com")
    member = await new_user(runtime, "member@example.com")
    live = await make_tenant(runtime, owner, "live", admin=[admin], member=[member])
    gone = await make_tenant(runtime, owner, "gone", admin=[admin])
    their_own = await make_tenant(runtime, member, "others")
    async with runtime.db.transaction() as session:
        await session.execute(update(Tenant).where(Tenant.id == gone).values(status="deleted"))

    async with runtime.db.sessionmaker() as session:
        assert await managed_tenant_ids(session, owner) == {live}
        assert await managed_tenant_ids(session, admin) == {live}
        assert await managed_tenant_ids(session, member) == {their_own}  # not "live"
        # What a deleted tenant left behind stays its managers' to read.
        assert await managed_tenant_ids(session, admin, include_gone=True) == {live, gone}
        assert await managed_tenant_ids(session, member, include_gone=True) == {their_own}
