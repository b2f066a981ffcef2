"""One event as the bytes of its SSE message: ``id`` the outbox seq, ``event`` the type,
``data`` the body the webhooks send (``{"type", "timestamp", "data"}``)."""

from __future__ import annotations

import json

from sse_starlette import ServerSentEvent

from saas_server.events.models import OutboxEvent
from saas_server.webhooks.delivery import event_body

# sse-starlette's own line separator, so pre-encoded messages match its pings.
SEPARATOR = "\r\n"


def encode(event: OutboxEvent) -> bytes:
    return ServerSentEvent(
        id=str(event.seq),
        event=event.type,
        data=json.dumps(event_body(event)),
        sep=SEPARATOR,
    ).encode()
