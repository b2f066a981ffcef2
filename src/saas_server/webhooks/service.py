"""Webhook endpoints: who may subscribe to what, the secret shown once, rotation, replay.

The service never commits: the caller (a request, a command, a job) owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from saas_server.core.outbound import resolve
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.tenants.models import Membership, Tenant
from saas_server.tenants.rules import MANAGER_ROLES
from saas_server.tenants.service import TenantNotFound
from saas_server.users.models import User
from saas_server.webhooks.delivery import (
    Readers,
    defer_deliver_due,
    defer_delivery,
    event_body,
    ping_body,
    seal_secret,
)
from saas_server.webhooks.models import (
    DeliveryOrigin,
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from saas_server.webhooks.schemas import EndpointCreate, EndpointUpdate
from saas_server.webhooks.signing import new_secret
from saas_server.webhooks.visibility import managed_tenants

# A replay re-sends at most this many events (narrow the window for more).
MAX_REPLAY = 10_000


class EndpointNotFound(NotFound):
    code = "WEBHOOK_ENDPOINT_NOT_FOUND"
    message = "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    code = "WEBHOOK_DELIVERY_NOT_FOUND"
    message = "Webhook delivery not found"


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": endpoint.event_types,
        "description": endpoint.description,
        "tenant_id": str(endpoint.tenant_id) if endpoint.tenant_id else None,
        "status": endpoint.status,
    }


class WebhookService:
    def __init__(
        self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.client = client

    # -- who sees which endpoint ----------------------------------------------------------

    async def visible_endpoints(self, actor: User) -> Select[WebhookEndpoint]:
        """An actor's own endpoints and those of the tenants they manage; admins: all."""
        stmt = select(WebhookEndpoint)
        if actor.is_platform_admin:
            return stmt
        tenants = await managed_tenants(self.session, actor.id)
        return stmt.where(
            or_(WebhookEndpoint.owner_id == actor.id, WebhookEndpoint.tenant_id.in_(tenants))
        )

    async def get(
        self, actor: User, endpoint_id: uuid.UUID, *, lock: bool = False
    ) -> WebhookEndpoint:
        stmt = (await self.visible_endpoints(actor)).where(WebhookEndpoint.id == endpoint_id)
        if lock:
            stmt = stmt.with_for_update()
        endpoint = (await self.session.execute(stmt)).scalar_one_or_none()
        if endpoint is None:
            raise EndpointNotFound()
        return endpoint

    async def _require_tenant_manager(self, actor: User, tenant_id: uuid.UUID) -> None:
        tenant = await self.session.get(Tenant, tenant_id)
        if tenant is None:
            raise TenantNotFound()
        if actor.is_platform_admin:
            return
        role = (
            await self.session.execute(
                select(Membership.role).where(
                    Membership.tenant_id == tenant_id, Membership.user_id == actor.id
                )
            )
        ).scalar_one_or_none()
        if role is None:
            raise TenantNotFound()
        if role not in MANAGER_ROLES:
            raise Forbidden("Only the tenant's owners and admins may subscribe to its events")

    async def _check_url(self, url: str) -> str:
        # 422 now, and again at every delivery (a name can change what it resolves to).
        await resolve(url, allow_private=self.runtime.settings.webhooks_allow_private)
        return url

    # -- endpoints ------------------------------------------------------------------------

    async def create(self, actor: User, data: EndpointCreate) -> tuple[WebhookEndpoint, str]:
        if data.tenant_id is not None:
            await self._require_tenant_manager(actor, data.tenant_id)
        url = await self._check_url(data.url)
        secret = new_secret()
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            owner_id=actor.id,
            tenant_id=data.tenant_id,
            url=url,
            description=data.description,
            event_types=data.events,
            status=EndpointStatus.ACTIVE.value,
        )
        endpoint.secret_encrypted = seal_secret(self.runtime, endpoint.id, secret)
        self.session.add(endpoint)
        await self.session.flush()
        await self._audit("webhook_endpoint.created", actor, endpoint, new=_snapshot(endpoint))
        return endpoint, secret

    async def update(
        self, actor: User, endpoint: WebhookEndpoint, data: EndpointUpdate
    ) -> WebhookEndpoint:
        before = _snapshot(endpoint)
        if data.url is not None:
            endpoint.url = await self._check_url(data.url)
        if data.events is not None:
            endpoint.event_types = data.events
        if data.description is not None:
            endpoint.description = data.description
        if data.status is not None and data.status != endpoint.status:
            endpoint.status = data.status
            if data.status == EndpointStatus.ACTIVE.value:
                # A fresh start: the failing clock and the reason go.
                endpoint.failing_since = None
                endpoint.disabled_reason = None
            else:
                endpoint.disabled_reason = "Disabled by its owner"
        endpoint.updated_at = clock.now()
        await self.session.flush()
        await self._audit(
            "webhook_endpoint.updated", actor, endpoint, old=before, new=_snapshot(endpoint)
        )
        return endpoint

    async def delete(self, actor: User, endpoint: WebhookEndpoint) -> None:
        await self._audit("webhook_endpoint.deleted", actor, endpoint, old=_snapshot(endpoint))
        await self.session.delete(endpoint)
        await self.session.flush()

    async def rotate_secret(self, actor: User, endpoint: WebhookEndpoint) -> tuple[str, datetime]:
        """A new secret; the current one keeps signing alongside it for the overlap."""
        secret = new_secret()
        expires = clock.now() + timedelta(hours=self.runtime.settings.webhooks_secret_overlap_hours)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = expires
        endpoint.secret_encrypted = seal_secret(self.runtime, endpoint.id, secret)
        endpoint.updated_at = clock.now()
        await self.session.flush()
        await self._audit(
            "webhook_endpoint.secret_rotated",
            actor,
            endpoint,
            new={"previous_secret_expires_at": clock.isoformat(expires)},
        )
        return secret, expires

    # -- deliveries -----------------------------------------------------------------------

    def _new_delivery(
        self, endpoint: WebhookEndpoint, origin: DeliveryOrigin, **fields: Any
    ) -> WebhookDelivery:
        return WebhookDelivery(
            id=fields.pop("id", uuid.uuid4()),
            endpoint_id=endpoint.id,
            origin=origin.value,
            status=DeliveryStatus.PENDING.value,
            attempt_count=0,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
            **fields,
        )

    async def send_test(self, actor: User, endpoint: WebhookEndpoint) -> WebhookDelivery:
        """A ``ping``, signed like any event; one attempt, no retries."""
        delivery_id = uuid.uuid4()
        delivery = self._new_delivery(
            endpoint,
            DeliveryOrigin.TEST,
            id=delivery_id,
            message_id=str(delivery_id),
            event_type="ping",
            payload=ping_body(endpoint),
        )
        self.session.add(delivery)
        await self.session.flush()
        await defer_delivery(self.session, delivery.id)
        await self._audit("webhook_endpoint.tested", actor, endpoint)
        return delivery

    async def replay(
        self,
        actor: User | None,
        endpoint: WebhookEndpoint,
        since: datetime,
        until: datetime | None,
    ) -> int:
        """Re-send every event of the window the endpoint subscribes to and may read
        (``actor`` None: the operator, on the command line)."""
        if endpoint.status != EndpointStatus.ACTIVE.value:
            raise Conflict("The endpoint is disabled; enable it before replaying")
        since = clock.as_utc(since)
        until = clock.as_utc(until) if until is not None else clock.now()
        if until < since:
            raise ValidationFailed.for_field("until", "until must not be before since")
        stmt = select(OutboxEvent).where(
            OutboxEvent.occurred_at >= since, OutboxEvent.occurred_at <= until
        )
        if endpoint.tenant_id is not None:
            stmt = stmt.where(OutboxEvent.tenant_id == endpoint.tenant_id)
        events = (
            (await self.session.execute(stmt.order_by(OutboxEvent.seq).limit(MAX_REPLAY + 1)))
            .scalars()
            .all()
        )
        if len(events) > MAX_REPLAY:
            raise ValidationFailed.for_field(
                "since", f"The window holds more than {MAX_REPLAY} events; narrow it"
            )
        reader = await Readers(self.session).of(endpoint.owner_id)
        queued = 0
        for event in events:
            if (
                not endpoint.subscribes_to(event.type)
                or reader is None
                or not reader.can_read(event)
            ):
                continue
            delivery = self._new_delivery(
                endpoint,
                DeliveryOrigin.REPLAY,
                event_id=event.id,
                message_id=str(event.id),
                event_type=event.type,
                payload=event_body(event),
            )
            self.session.add(delivery)
            queued += 1
        if queued:
            await self.session.flush()
            # Sent in batches by the due-deliveries job, not a job each (decision 0037).
            await defer_deliver_due(self.session)
        await self._audit(
            "webhook_endpoint.replayed",
            actor,
            endpoint,
            new={
                "since": clock.isoformat(since),
                "until": clock.isoformat(until),
                "queued": queued,
            },
        )
        return queued

    def deliveries_of(self, endpoint: WebhookEndpoint) -> Select[WebhookDelivery]:
        return select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)

    async def attempts_of(
        self, delivery_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[WebhookAttempt]]:
        found: dict[uuid.UUID, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
        if delivery_ids:
            rows = await self.session.execute(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_(delivery_ids))
                .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
            )
            for attempt in rows.scalars():
                found[attempt.delivery_id].append(attempt)
        return found

    async def get_delivery(self, actor: User, delivery_id: uuid.UUID) -> WebhookDelivery:
        visible = (await self.visible_endpoints(actor)).with_only_columns(WebhookEndpoint.id)
        delivery = (
            await self.session.execute(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.endpoint_id.in_(visible.scalar_subquery()),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if delivery is None:
            raise DeliveryNotFound()
        return delivery

    async def retry(self, actor: User | None, delivery: WebhookDelivery) -> WebhookDelivery:
        """Send a delivery again now, whatever its state: its attempts log goes on
        (``actor`` None: the operator, on the command line)."""
        endpoint = await self.session.get(WebhookEndpoint, delivery.endpoint_id)
        assert endpoint is not None
        if endpoint.status != EndpointStatus.ACTIVE.value:
            raise Conflict("The endpoint is disabled; enable it before retrying")
        delivery.status = DeliveryStatus.PENDING.value
        delivery.next_attempt_at = clock.now()
        delivery.completed_at = None
        # A manual retry gets a whole schedule of its own (``attempt_count`` counts within
        # the schedule; the attempts log keeps every attempt).
        delivery.attempt_count = 0
        await self.session.flush()
        await defer_delivery(self.session, delivery.id)
        await self._audit(
            "webhook_delivery.retried", actor, endpoint, new={"delivery_id": str(delivery.id)}
        )
        return delivery

    async def _audit(
        self,
        action: str,
        actor: User | None,
        endpoint: WebhookEndpoint,
        *,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> None:
        await audit.record(
            self.session,
            action=action,
            resource_type="webhook_endpoint",
            resource_id=endpoint.id,
            actor_id=actor.id if actor is not None else None,
            tenant_id=endpoint.tenant_id,
            old_values=old,
            new_values=new,
            client=self.client,
        )
