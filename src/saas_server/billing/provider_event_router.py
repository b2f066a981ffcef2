"""Payment providers' webhooks into the platform: ``POST /api/v1/billing/webhooks/stripe``."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel

from saas_server.billing.provider_events import receive_provider_event
from saas_server.billing.providers.base import InvalidWebhook
from saas_server.billing.providers.stripe import verify_stripe_webhook
from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.errors import Unauthorized
from saas_server.core.openapi import errors
from saas_server.core.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1", tags=["billing"])


class InvalidProviderSignature(Unauthorized):
    message = "The webhook's signature does not verify"


class ProviderEventAck(BaseModel):
    id: str
    type: str
    # True when this delivery repeated an event already applied (acknowledged, not applied).
    duplicate: bool


@router.post("/billing/webhooks/stripe", response_model=ProviderEventAck, responses=errors(401))
async def receive_stripe_webhook(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> ProviderEventAck:
    """Stripe's events, verified with the library's verifier against
    ``SAAS_STRIPE_WEBHOOK_SECRET``; a forged or stale one is 401 and nothing is recorded."""
    secret = runtime.settings.stripe_webhook_secret
    payload = await request.body()
    try:
        event = verify_stripe_webhook(
            payload,
            request.headers,
            webhook_secret=secret.get_secret_value() if secret is not None else None,
        )
    except InvalidWebhook as exc:
        raise InvalidProviderSignature() from exc
    applied = await receive_provider_event(session, runtime, "stripe", event)
    return ProviderEventAck(id=event.id, type=event.type, duplicate=not applied)
