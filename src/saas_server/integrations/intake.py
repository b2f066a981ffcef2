"""Verified, idempotent intake of webhooks from integration providers and tenants' Odoo.

A provider signs the raw body with its secret: HMAC-SHA256, hex, in ``X-Signature:
sha256=<hex>`` or ``X-Webhook-Signature: <hex>`` (the ``sha256=`` prefix optional in both).
When the request carries ``X-Webhook-Timestamp`` (epoch seconds), what is signed is
``<timestamp>.<raw body>`` instead, and the timestamp must be within the tolerance
(5 minutes) of the platform's clock: a captured request cannot be replayed later.
Signatures are compared in constant time.

A verified event is inserted with ``ON CONFLICT DO NOTHING`` on ``(source, event_id)``: of
two identical posts, however concurrent, exactly one inserts and defers the processing job
in the same transaction; the other finds the row and is acknowledged as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import Unauthorized, ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.core.schemas import contains_nul
from saas_server.integrations.models import (
    EVENT_SOURCE_ID_UNIQUE,
    EventStatus,
    InboundEvent,
    IntegrationProvider,
)
from saas_server.integrations.service import (
    SECRET_PURPOSE,
    ProviderNotFound,
    defer_processing,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADERS = ("x-signature", "x-webhook-signature")
TIMESTAMP_HEADER = "x-webhook-timestamp"
SIGNATURE_PREFIX = "sha256="


def sign(secret: str | bytes, body: bytes, timestamp: str | None = None) -> str:
    """The hex HMAC-SHA256 a sender puts in the signature header (see the module's doc)."""
    key = secret.encode() if isinstance(secret, str) else secret
    signed = body if timestamp is None else timestamp.encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).hexdigest()


def _presented_signature(headers: Mapping[str, str]) -> str | None:
    for name in SIGNATURE_HEADERS:
        value = headers.get(name)
        if value:
            value = value.strip()
            if value.lower().startswith(SIGNATURE_PREFIX):
                value = value[len(SIGNATURE_PREFIX) :]
            return value.lower()
    return None


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_seconds: int,
    signature_header: str | None = None,
) -> None:
    """Raise 401 unless the signature of ``body`` (and timestamp, when sent) is right."""
    presented = (
        headers.get(signature_header, "").strip().lower()
        if signature_header
        else _presented_signature(headers)
    )
    if not presented:
        raise Unauthorized("The webhook carries no signature")
    timestamp = headers.get(TIMESTAMP_HEADER)
    if timestamp is not None:
        timestamp = timestamp.strip()
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise Unauthorized("The webhook timestamp is not epoch seconds") from None
        if abs(clock.now().timestamp() - sent_at) > tolerance_seconds:
            raise Unauthorized("The webhook timestamp is outside the tolerance")
    expected = sign(secret, body, timestamp)
    if not hmac.compare_digest(expected.encode(), presented.encode("ascii", "replace")):
        raise Unauthorized("The webhook signature does not match")


def address_allowed(ip: str | None, allowed: list[str]) -> bool:
    if not allowed:
        return True
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not JSON")


def parse_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed.for_field("body", "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise ValidationFailed.for_field("body", "The body must be a JSON object.")
    if contains_nul(payload):
        raise ValidationFailed.for_field("body", "Must not contain the NUL character.")
    return payload


def required_text(payload: Mapping[str, Any], field: str, max_length: int) -> str:
    value = payload.get(field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed.for_field(field, "A non-empty string is required.")
    if len(value) > max_length:
        raise ValidationFailed.for_field(field, f"At most {max_length} characters.")
    return value.strip()


@dataclass(frozen=True)
class Intake:
    """The outcome of one post: stored anew (202) or a repeat of one stored before (200)."""

    event_id: str
    id: uuid.UUID | None
    duplicate: bool


async def store_event(
    session: AsyncSession,
    *,
    source: str,
    kind: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    provider_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    instance_id: uuid.UUID | None = None,
) -> Intake:
    """Insert the event unless its ``(source, event_id)`` is known, and defer its processing
    in the same transaction."""
    now = clock.now()
    stored_id = (
        await session.execute(
            insert(InboundEvent)
            .values(
                id=uuid.uuid4(),
                source=source,
                provider_id=provider_id,
                tenant_id=tenant_id,
                instance_id=instance_id,
                kind=kind,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                status=EventStatus.PENDING.value,
                attempts=0,
                retries=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(constraint=EVENT_SOURCE_ID_UNIQUE)
            .returning(InboundEvent.id)
        )
    ).scalar_one_or_none()
    if stored_id is None:
        return Intake(event_id=event_id, id=None, duplicate=True)
    await defer_processing(session, stored_id)
    return Intake(event_id=event_id, id=stored_id, duplicate=False)


async def receive_provider_webhook(
    session: AsyncSession,
    runtime: Runtime,
    provider_name: str,
    body: bytes,
    headers: Mapping[str, str],
    client_ip: str | None,
) -> Intake:
    provider = (
        await session.execute(
            select(IntegrationProvider).where(IntegrationProvider.name == provider_name)
        )
    ).scalar_one_or_none()
    if provider is None:
        raise ProviderNotFound()
    if not provider.is_active:
        raise Unauthorized("This integration provider is inactive")
    if not address_allowed(client_ip, list(provider.allowed_ips)):
        logger.warning(
            "webhook for %s refused from %s: outside allowed_ips", provider.name, client_ip
        )
        raise Unauthorized("This address may not post this provider's webhooks")
    # Counted before the signature is checked, so guessing signatures is throttled too.
    await runtime.rate_limiter.check(provider.rate_limit, "integration", provider.name)
    secret = runtime.secrets.decrypt(provider.secret_encrypted, SECRET_PURPOSE)
    try:
        verify_signature(
            secret,
            body,
            headers,
            tolerance_seconds=runtime.settings.integrations_signature_tolerance_seconds,
        )
    except Unauthorized as exc:
        logger.warning("webhook for %s refused: %s", provider.name, exc.message)
        raise
    payload = parse_payload(body)
    return await store_event(
        session,
        source=provider.name,
        kind=provider.kind,
        event_id=required_text(payload, "event_id", 255),
        event_type=required_text(payload, "event_type", 200),
        payload=payload,
        provider_id=provider.id,
    )
