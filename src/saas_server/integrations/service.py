"""Integration providers (platform admins manage them) and the event log's rules.

Services never commit: the request, the job or the command that calls them owns the
transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import AppError, NotFound, ValidationFailed
from saas_server.core.jobs import defer
from saas_server.core.runtime import Runtime
from saas_server.integrations.lifecycle import INBOUND_EVENT, EventAction
from saas_server.integrations.models import (
    ODOO_SOURCE,
    InboundEvent,
    InboundEventAttempt,
    IntegrationProvider,
)

PROCESS_EVENT_TASK = "integrations.process_event"
RETRY_DUE_TASK = "integrations.retry_due"
CHECK_HEALTH_TASK = "integrations.check_health"
INSTALL_ODOO_SECRET_TASK = "integrations.install_odoo_secret"
TEND_ODOO_SECRETS_TASK = "integrations.tend_odoo_secrets"
# Where a provider's secret is encrypted for: a ciphertext cannot be moved to another use.
SECRET_PURPOSE = b"integration-provider-secret"


class ProviderNotFound(NotFound):
    code = "PROVIDER_NOT_FOUND"
    message = "Integration provider not found"


class ProviderNameTaken(AppError):
    status_code = 409
    code = "CONFLICT"
    message = "An integration provider with this name exists"
    unique_constraints = ("uq_integration_providers_name",)


class EventNotFound(NotFound):
    code = "EVENT_NOT_FOUND"
    message = "Integration event not found"


def intake_path(name: str) -> str:
    return f"/api/v1/integrations/webhooks/{name}"


def provider_snapshot(provider: IntegrationProvider) -> dict[str, Any]:
    """What the audit trail keeps of a provider (never its secret)."""
    return {
        "name": provider.name,
        "kind": provider.kind,
        "webhook_url": provider.webhook_url,
        "api_base_url": provider.api_base_url,
        "auth_type": provider.auth_type,
        "allowed_ips": list(provider.allowed_ips),
        "is_active": provider.is_active,
        "rate_limit": provider.rate_limit,
    }


async def defer_processing(
    session: AsyncSession, event_id: uuid.UUID, *, manual: bool = False
) -> None:
    """Queue processing of one event in the caller's transaction (the queueing lock: one
    job per event waits, however many retries are asked for)."""
    await defer(
        session,
        PROCESS_EVENT_TASK,
        queue="integrations",
        queueing_lock=f"integration-event:{event_id}",
        event_id=str(event_id),
        manual=manual,
    )


class ProviderService:
    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.client = client

    def encrypt_secret(self, secret: str) -> str:
        return self.runtime.secrets.encrypt(secret, SECRET_PURPOSE)

    async def get(self, provider_id: uuid.UUID) -> IntegrationProvider:
        provider = await self.session.get(IntegrationProvider, provider_id)
        if provider is None:
            raise ProviderNotFound()
        return provider

    async def _check_name(self, name: str, provider_id: uuid.UUID | None = None) -> None:
        if name == ODOO_SOURCE:
            raise ValidationFailed.for_field(
                "name", "'odoo' names the events of tenants' Odoo databases; choose another."
            )
        found = (
            await self.session.execute(
                select(IntegrationProvider.id).where(IntegrationProvider.name == name)
            )
        ).scalar_one_or_none()
        if found is not None and found != provider_id:
            raise ProviderNameTaken()

    async def create(self, actor_id: uuid.UUID, values: dict[str, Any]) -> IntegrationProvider:
        await self._check_name(values["name"])
        provider = IntegrationProvider(
            name=values["name"],
            kind=str(values["kind"]),
            webhook_url=values.get("webhook_url"),
            api_base_url=values.get("api_base_url"),
            auth_type=str(values["auth_type"]),
            secret_encrypted=self.encrypt_secret(values["secret_key"]),
            allowed_ips=list(values.get("allowed_ips") or []),
            is_active=values.get("is_active", True),
            rate_limit=values.get("rate_limit")
            or self.runtime.settings.integrations_default_rate_limit,
        )
        self.session.add(provider)
        await self.session.flush()
        await audit.record(
            self.session,
            action="integration_provider.created",
            resource_type="integration_provider",
            resource_id=provider.id,
            actor_id=actor_id,
            new_values=provider_snapshot(provider),
            client=self.client,
        )
        return provider

    async def update(
        self, actor_id: uuid.UUID, provider: IntegrationProvider, changes: dict[str, Any]
    ) -> IntegrationProvider:
        before = provider_snapshot(provider)
        if changes.get("name") is not None:
            await self._check_name(changes["name"], provider.id)
        secret_changed = changes.get("secret_key") is not None
        for field in ("name", "kind", "auth_type", "allowed_ips", "is_active", "rate_limit"):
            if changes.get(field) is not None:
                value = changes[field]
                setattr(provider, field, str(value) if field in ("kind", "auth_type") else value)
        # URLs may be cleared with an explicit null.
        for field in ("webhook_url", "api_base_url"):
            if field in changes:
                setattr(provider, field, changes[field])
        if secret_changed:
            provider.secret_encrypted = self.encrypt_secret(changes["secret_key"])
        await self.session.flush()
        after = provider_snapshot(provider)
        old = {k: v for k, v in before.items() if after[k] != v}
        new = {k: after[k] for k in old}
        if secret_changed:
            # Named, never shown: the audit entry says the secret changed.
            new["secret_key"] = "rotated"
        if new:
            await audit.record(
                self.session,
                action="integration_provider.updated",
                resource_type="integration_provider",
                resource_id=provider.id,
                actor_id=actor_id,
                old_values=old,
                new_values=new,
                client=self.client,
            )
        return provider

    async def delete(self, actor_id: uuid.UUID, provider: IntegrationProvider) -> None:
        # Its events stay in the log under its name (provider_id becomes null).
        await audit.record(
            self.session,
            action="integration_provider.deleted",
            resource_type="integration_provider",
            resource_id=provider.id,
            actor_id=actor_id,
            old_values=provider_snapshot(provider),
            client=self.client,
        )
        await self.session.delete(provider)
        await self.session.flush()


class EventLog:
    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.client = client

    async def get(self, event_id: uuid.UUID) -> InboundEvent:
        event = await self.session.get(InboundEvent, event_id)
        if event is None:
            raise EventNotFound()
        return event

    async def attempts(self, event: InboundEvent) -> list[InboundEventAttempt]:
        result = await self.session.execute(
            select(InboundEventAttempt)
            .where(InboundEventAttempt.event_id == event.id)
            .order_by(InboundEventAttempt.number)
        )
        return list(result.scalars())

    async def retry(self, actor_id: uuid.UUID, event: InboundEvent) -> InboundEvent:
        """One more attempt, now; a processed event answers 409 (never processed twice)."""
        await self.session.refresh(event, with_for_update=True)
        before = event.status
        INBOUND_EVENT.apply(event, EventAction.RETRY)
        event.next_attempt_at = None
        await defer_processing(self.session, event.id, manual=True)
        await audit.record(
            self.session,
            action="integration_event.retried",
            resource_type="integration_event",
            resource_id=event.id,
            actor_id=actor_id,
            tenant_id=event.tenant_id,
            old_values={"status": before},
            new_values={"status": event.status, "requested_at": clock.isoformat(clock.now())},
            client=self.client,
        )
        return event
