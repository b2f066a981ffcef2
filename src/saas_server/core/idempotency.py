"""``Idempotency-Key`` on unsafe creates (Stripe's semantics): the first request's answer is
stored with its change, in the same transaction; the same key from the same user with the
same request gets that answer again and nothing runs twice; the same key with a different
request (method, path or body) is a 409.

Used where a retried request would otherwise act twice: charging (billing), creating a
tenant, taking and restoring a backup. A failed request stores nothing (its transaction
rolls back), so a retry after an error runs again. Answers are kept
``idempotency_key_retention_hours`` (24 by default, as Stripe keeps keys), then forgotten by
an hourly job (:func:`forget_before`): the same key after that is a new request.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import ForeignKey, Integer, String, delete, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps
from saas_server.core.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
# Set on an answer replayed from a first request, as Stripe does.
REPLAYED_HEADER = "Idempotent-Replayed"

# The header as an endpoint parameter (documents it in the OpenAPI document).
IDEMPOTENCY_KEY = Header(
    alias=HEADER,
    description="Send the same key again (with the same request) to get the first answer, "
    "without the action being done twice; the same key with another request is a 409.",
)


class IdempotentRequest(Timestamps, Base):
    """The answer to an unsafe request sent with an ``Idempotency-Key``, kept with its
    change: the same key from the same user gets the same answer again."""

    __tablename__ = "idempotent_requests"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # method, path and body hash: the same key with another request is a 409.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)


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
) -> tuple[int, dict[str, Any], bool]:
    """Run ``work`` once per (user, key): its status and body, and whether they were
    replayed from the first request."""
    if key is None:
        return status_code, (await work()).model_dump(mode="json"), False
    if not 1 <= len(key) <= 255:
        raise ValidationFailed.for_field(HEADER, "1 to 255 characters.")
    # Serialises requests racing with one key: the second waits for the first's commit.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:scope))"), {"scope": f"{user_id}:{key}"}
    )
    found = await session.get(IdempotentRequest, (user_id, key))
    if found is not None:
        if found.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        return found.status_code, found.body, True
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
    return status_code, body, False


async def idempotent_response(
    request: Request,
    session: AsyncSession,
    user_id: uuid.UUID,
    status_code: int,
    work: Callable[[], Awaitable[BaseModel]],
    *,
    path: str | None = None,
) -> JSONResponse:
    """:func:`idempotent` for an endpoint: the request's ``Idempotency-Key``, its method,
    path (or ``path``, when several routes are one action) and body as the fingerprint."""
    code, body, replayed = await idempotent(
        session,
        user_id,
        request.headers.get(HEADER),
        fingerprint(request.method, path or request.url.path, await request.body()),
        status_code,
        work,
    )
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return JSONResponse(body, status_code=code, headers=headers)


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Forget the answers stored before ``cutoff``; how many were forgotten."""
    result = await session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
