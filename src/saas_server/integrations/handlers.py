"""What an accepted event does, by (kind, event type): one line per pair in :data:`HANDLERS`.

A handler runs in the processing job's transaction (in a savepoint): what it changes
commits with the event's ``processed`` status, or not at all. Raising makes the attempt
fail and the event is retried on the schedule.

``payment_service`` events settle or fail the invoice they name through billing
(``billing/settlement.py``); its ``subscription.created``/``updated`` are stored
``unhandled``: subscriptions are the platform's own. A handler added later with
:func:`connect` lets such events be retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.auth.service import AuthService
from saas_server.billing import settlement
from saas_server.core.errors import AppError
from saas_server.core.runtime import Runtime
from saas_server.directory.service import user_snapshot
from saas_server.events import service as events
from saas_server.integrations.models import (
    ODOO_SOURCE,
    ExternalUserLink,
    InboundEvent,
    IntegrationProvider,
    ProviderKind,
)
from saas_server.users import service as users
from saas_server.users.models import User

# Any event type of a kind (a specific pair wins).
ANY_TYPE = "*"


@dataclass(frozen=True)
class HandlerContext:
    session: AsyncSession
    runtime: Runtime
    event: InboundEvent
    provider: IntegrationProvider | None

    @property
    def data(self) -> dict[str, Any]:
        data = self.event.payload.get("data")
        return data if isinstance(data, dict) else {}


# What a handler returns is kept on the event as ``result`` (ids it touched, what it emitted).
Handler = Callable[[HandlerContext], Awaitable[dict[str, Any] | None]]


class EventDataInvalid(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"
    message = "The event's data is incomplete"


class ProviderGone(AppError):
    status_code = 404
    code = "PROVIDER_NOT_FOUND"
    message = "The provider of this event was removed; its users cannot be matched"


def _provider(context: HandlerContext) -> IntegrationProvider:
    if context.provider is None:
        raise ProviderGone()
    return context.provider


class ExternalUserUnknown(AppError):
    status_code = 404
    code = "USER_NOT_FOUND"
    message = "No platform user is linked to this external id yet"


def _text(data: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _external_id(context: HandlerContext) -> str:
    external = _text(context.data, "user_id", "id", "external_id")
    if external is None:
        raise EventDataInvalid("The event's data names no user_id")
    return external


async def _linked_user(context: HandlerContext, external_id: str) -> User | None:
    provider = _provider(context)
    return (
        await context.session.execute(
            select(User)
            .join(ExternalUserLink, ExternalUserLink.user_id == User.id)
            .where(
                ExternalUserLink.provider_id == provider.id,
                ExternalUserLink.external_id == external_id,
            )
        )
    ).scalar_one_or_none()


def _source(context: HandlerContext) -> dict[str, Any]:
    return {"source": f"integration:{context.event.source}", "event_id": context.event.event_id}


async def _apply_user_changes(context: HandlerContext, user: User) -> dict[str, Any]:
    """Email and names from the event's data; audited as ``user.updated`` when they change."""
    before = user_snapshot(user)
    email = _text(context.data, "email")
    if email is not None and users.normalize_email(email) != user.email:
        if await users.find_by_email(context.session, email) is not None:
            raise users.EmailTaken()
        user.email = users.normalize_email(email)
        user.email_verified_at = None
    users.update_names(
        user,
        full_name=_text(context.data, "name", "full_name"),
        first_name=_text(context.data, "first_name"),
        last_name=_text(context.data, "last_name"),
    )
    if context.data.get("is_active") is True and not user.is_active:
        user.is_active = True
    await context.session.flush()
    after = user_snapshot(user)
    old = {k: v for k, v in before.items() if after[k] != v}
    if old:
        await audit.record(
            context.session,
            action="user.updated",
            resource_type="user",
            resource_id=user.id,
            old_values=old,
            new_values={**{k: after[k] for k in old}, **_source(context)},
        )
    return {"user_id": str(user.id), "changed": sorted(old)}


async def user_created(context: HandlerContext) -> dict[str, Any]:
    provider = _provider(context)
    external_id = _external_id(context)
    linked = await _linked_user(context, external_id)
    if linked is not None:  # the same user announced again: bring it up to date
        return {**await _apply_user_changes(context, linked), "action": "updated"}
    email = _text(context.data, "email")
    if email is None:
        raise EventDataInvalid("The event's data names no email")
    user = await users.find_by_email(context.session, email)
    action = "linked"
    if user is None:
        # No password: the person sets one through the password reset when they first come.
        user = await users.create_user(
            context.session,
            email=email,
            password=None,
            full_name=_text(context.data, "name", "full_name"),
            first_name=_text(context.data, "first_name"),
            last_name=_text(context.data, "last_name"),
        )
        await audit.record(
            context.session,
            action="user.created",
            resource_type="user",
            resource_id=user.id,
            new_values={**user_snapshot(user), **_source(context)},
        )
        action = "created"
    context.session.add(
        ExternalUserLink(provider_id=provider.id, external_id=external_id, user_id=user.id)
    )
    await context.session.flush()
    await audit.record(
        context.session,
        action="integration_user.linked",
        resource_type="user",
        resource_id=user.id,
        new_values={"provider": provider.name, "external_id": external_id},
    )
    return {"user_id": str(user.id), "action": action}


async def user_updated(context: HandlerContext) -> dict[str, Any]:
    user = await _linked_user(context, _external_id(context))
    if user is None:
        # Possibly ahead of its user.created: the retry schedule gives that one time.
        raise ExternalUserUnknown()
    return {**await _apply_user_changes(context, user), "action": "updated"}


async def user_deleted(context: HandlerContext) -> dict[str, Any]:
    """The external account is gone: the platform user is deactivated (not deleted: the
    tenants they own and the audit trail stay whole) and their sessions end."""
    user = await _linked_user(context, _external_id(context))
    if user is None:
        raise ExternalUserUnknown()
    if user.is_active:
        user.is_active = False
        await AuthService(context.session, context.runtime).revoke_all_sessions(
            user.id, "deactivated by integration"
        )
        await context.session.flush()
        await audit.record(
            context.session,
            action="user.updated",
            resource_type="user",
            resource_id=user.id,
            old_values={"is_active": True},
            new_values={"is_active": False, **_source(context)},
        )
    return {"user_id": str(user.id), "action": "deactivated"}


def _event_name_part(value: str) -> str:
    return value.strip().lower().replace(" ", "_")


async def reemit_generic(context: HandlerContext) -> dict[str, Any]:
    """Our own outbox event ``integration.<provider>.<event_type>``, for outbound endpoints."""
    type_ = f"integration.{context.event.source}.{_event_name_part(context.event.event_type)}"
    emitted = await events.emit(
        context.session,
        type_,
        {
            "provider": context.event.source,
            "event_id": context.event.event_id,
            "event_type": context.event.event_type,
            "data": context.data,
        },
    )
    return {"emitted": type_, "outbox_id": str(emitted.id)}


async def reemit_odoo(context: HandlerContext) -> dict[str, Any]:
    """``odoo.<model>.<event>`` in the tenant's outbox (its webhooks and event stream)."""
    type_ = f"odoo.{context.event.event_type}"
    payload = context.event.payload
    emitted = await events.emit(
        context.session,
        type_,
        {
            "tenant_id": str(context.event.tenant_id),
            "instance_id": str(context.event.instance_id),
            "database": payload.get("database") or payload.get("db"),
            "event_id": context.event.event_id,
            "model": payload.get("model"),
            "event": payload.get("event"),
            "record_id": payload.get("record_id"),
            "data": context.data,
        },
        tenant_id=context.event.tenant_id,
    )
    return {"emitted": type_, "outbox_id": str(emitted.id)}


async def payment_succeeded(context: HandlerContext) -> dict[str, Any]:
    """A payment service says an invoice was paid: it is settled (idempotent; the tenant comes
    back if it was suspended for it). ``data``: ``invoice_id``, optional ``payment_id``."""
    invoice_id = settlement.invoice_id_in(context.data.get("invoice_id"))
    if invoice_id is None:
        raise EventDataInvalid(details={"invoice_id": ["an invoice id is required"]})
    payment_id = context.data.get("payment_id")
    invoice = await settlement.settle_invoice(
        context.session,
        context.runtime,
        invoice_id,
        provider_charge_id=str(payment_id) if payment_id else None,
    )
    if invoice is None:
        raise EventDataInvalid(details={"invoice_id": ["no such invoice"]})
    return {"invoice_id": str(invoice.id), "invoice_status": invoice.status}


async def payment_failed(context: HandlerContext) -> dict[str, Any]:
    """A payment service says a payment of an invoice failed: counted and announced."""
    invoice_id = settlement.invoice_id_in(context.data.get("invoice_id"))
    if invoice_id is None:
        raise EventDataInvalid(details={"invoice_id": ["an invoice id is required"]})
    reason = context.data.get("reason") or context.data.get("failure_message")
    details = {"reason": str(reason)[:500]} if reason else {}
    invoice = await settlement.record_failed_payment(context.session, invoice_id, details)
    if invoice is None:
        raise EventDataInvalid(details={"invoice_id": ["no such invoice"]})
    return {"invoice_id": str(invoice.id), "invoice_status": invoice.status}


HANDLERS: dict[tuple[str, str], Handler] = {
    (ProviderKind.USER_SERVICE, "user.created"): user_created,
    (ProviderKind.USER_SERVICE, "user.updated"): user_updated,
    (ProviderKind.USER_SERVICE, "user.deleted"): user_deleted,
    (ProviderKind.GENERIC, ANY_TYPE): reemit_generic,
    (ODOO_SOURCE, ANY_TYPE): reemit_odoo,
    (ProviderKind.PAYMENT_SERVICE, "payment.succeeded"): payment_succeeded,
    (ProviderKind.PAYMENT_SERVICE, "payment.failed"): payment_failed,
    # payment_service's subscription.created/updated (seed 002): subscriptions are the
    # platform's own (billing), so such events are stored as unhandled, not applied.
}


def connect(kind: str, event_type: str, handler: Handler) -> None:
    """Connect ``handler`` for ``(kind, event_type)`` (the composition root's business)."""
    HANDLERS[(kind, event_type)] = handler


def handler_for(kind: str, event_type: str) -> Handler | None:
    return HANDLERS.get((kind, event_type)) or HANDLERS.get((kind, ANY_TYPE))
