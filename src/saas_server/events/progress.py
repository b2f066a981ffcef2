"""Progress events of long operations: a step of a flow started or finished (docs/events.md).

``instance.progress`` (provisioning), ``backup.progress`` and ``restore.progress`` go into the
outbox like every event, each in its own short transaction, so the event stream (and webhook
endpoints subscribed to them) see a step as it happens, not only the operation's end.
"""

from __future__ import annotations

import uuid
from typing import Any

from saas_server.core.flows import Announce, StepEvent
from saas_server.core.runtime import Runtime
from saas_server.events import service as events


def announcer(
    runtime: Runtime, type_: str, tenant_id: uuid.UUID | None, **ids: uuid.UUID | None
) -> Announce:
    """An ``announce`` callback for ``Flow.run`` emitting ``type_`` for each step event,
    its data the ``ids`` (as strings) and where the flow stands."""

    async def announce(event: StepEvent) -> None:
        data: dict[str, Any] = {key: str(value) if value else None for key, value in ids.items()}
        data.update(
            tenant_id=str(tenant_id) if tenant_id else None,
            flow=event.flow,
            step=event.step,
            phase=event.phase,
            index=event.index,
            total=event.total,
            percent=event.percent,
        )
        async with runtime.db.transaction() as session:
            await events.emit(session, type_, data, tenant_id=tenant_id)

    return announce
