"""How loaded each host is: its live instances, which placement and the host list read."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.instances.models import Instance, InstanceStatus

LIVE_INSTANCE = Instance.status != InstanceStatus.DELETED.value


async def instance_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Instance.host_id, func.count(Instance.id))
        .where(LIVE_INSTANCE, Instance.host_id.is_not(None))
        .group_by(Instance.host_id)
    )
    return {host_id: count for host_id, count in rows.all() if host_id is not None}
