"""``Idempotency-Key`` on the POSTs that charge (Stripe's semantics): the first request's
answer is stored with its change, in the same transaction; the same key from the same user
with the same request gets that answer again and nothing runs twice; the same key with a
different request is a 409."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.billing.models import IdempotentRequest
from saas_server.core.errors import Conflict, ValidationFailed


class IdempotencyKeyReused(Conflict):
    message = "This Idempotency-Key was used for a different request"


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


async def idempotent(
    session: AsyncSession,
    user_id: uuid.UUID,
    key: str | None,
    request_fingerprint: str,
    status_code: int,
    work: Callable[[], Awaitable[BaseModel]],
) -> tuple[int, dict[str, Any]]:
    """Run ``work`` once per (user, key); the stored answer otherwise."""
    if key is None:
        return status_code, (await work()).model_dump(mode="json")
    if not 1 <= len(key) <= 255:
        raise ValidationFailed.for_field("Idempotency-Key", "1 to 255 characters.")
    # Serialises requests racing with one key: the second waits for the first's commit.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:scope))"), {"scope": f"{user_id}:{key}"}
    )
    found = await session.get(IdempotentRequest, (user_id, key))
    if found is not None:
        if found.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        return found.status_code, found.body
    body = (await work()).model_dump(mode="json")
    session.add(
        IdempotentRequest(
            user_id=user_id,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status_code,
            body=body,
        )
    )
    await session.flush()
    return status_code, body
