"""Stripe as a payment provider: customers, payment methods, off-session charges, refunds.

A thin money mover (docs/decisions/0014-stripe-provider.md): plans, subscriptions, invoices
and dunning stay in our engine; Stripe holds the customer and the card and moves the money.

Calls go through the official library's ``StripeClient`` (``v1`` services) and its async
methods (``*_async``) on the library's httpx client, so no call blocks the event loop or takes
a thread. ``SAAS_STRIPE_API_BASE`` points the client elsewhere (a localstripe in the tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import stripe

from saas_server.billing.providers.base import (
    ChargeResult,
    InvalidWebhook,
    PaymentMethodDetails,
    ProviderError,
    ProviderEvent,
    RefundResult,
)
from saas_server.core.errors import ConfigurationError
from saas_server.core.settings import Settings

# Stripe's own retries of a request that failed on the network, each with the same
# idempotency key, so a retry never charges twice.
NETWORK_RETRIES = 2
REQUEST_TIMEOUT_SECONDS = 30.0
# How old a signed webhook may be (the library's default, Stripe's recommendation).
WEBHOOK_TOLERANCE_SECONDS = 300

# What a client may send to attach a raw test card (test servers and test-mode accounts only;
# a live account takes payment method ids made by Stripe.js).
_CARD_FIELDS = ("number", "exp_month", "exp_year", "cvc")


class StripeProvider:
    name = "stripe"

    def __init__(self, *, secret_key: str, webhook_secret: str | None, api_base: str) -> None:
        if not secret_key:
            raise ConfigurationError("The Stripe provider needs SAAS_STRIPE_SECRET_KEY.")
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._api_base = api_base.rstrip("/")
        # The library's httpx client holds a connection pool bound to the event loop that
        # first used it: one client per loop (one in a server; one per test in the tests).
        self._client: stripe.StripeClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        if settings.stripe_secret_key is None:
            raise ConfigurationError(
                "SAAS_BILLING_PROVIDER is 'stripe' but SAAS_STRIPE_SECRET_KEY is not set."
            )
        webhook_secret = settings.stripe_webhook_secret
        return cls(
            secret_key=settings.stripe_secret_key.get_secret_value(),
            webhook_secret=webhook_secret.get_secret_value() if webhook_secret else None,
            api_base=settings.stripe_api_base,
        )

    @property
    def configuration(self) -> tuple[str, ...]:
        """What tells two providers apart (the key included: never show it)."""
        return (self._secret_key, self._webhook_secret or "", self._api_base)

    def __repr__(self) -> str:  # never the key
        return f"StripeProvider(api_base={self._api_base!r})"

    @property
    def client(self) -> stripe.StripeClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = stripe.StripeClient(
                self._secret_key,
                base_addresses={"api": self._api_base},
                http_client=stripe.HTTPXClient(timeout=REQUEST_TIMEOUT_SECONDS),
                max_network_retries=NETWORK_RETRIES,
            )
            self._client_loop = loop
        return self._client

    # -- customers and payment methods -----------------------------------------------------

    async def ensure_customer(
        self, *, account_ref: str, email: str, name: str, customer_id: str | None
    ) -> str:
        if customer_id is not None:
            return customer_id
        async with _provider_errors():
            customer = await self.client.v1.customers.create_async(
                params={"email": email, "name": name, "metadata": {"account_ref": account_ref}},
                # One customer per billing account, also when the first attempt's answer is lost.
                options={"idempotency_key": f"customer-{account_ref}"},
            )
        return str(customer.id)

    async def attach_payment_method(
        self, *, customer_id: str, source: Mapping[str, Any]
    ) -> PaymentMethodDetails:
        payment_method_id = await self._payment_method_id(source)
        async with _provider_errors():
            method = await self.client.v1.payment_methods.attach_async(
                payment_method_id, params={"customer": customer_id}
            )
        card = method.to_dict().get("card")
        if method.type != "card" or not isinstance(card, dict):
            raise ProviderError(
                "payment_method_unsupported",
                f"Payment methods of type {method.type!r} are not accepted; use a card.",
            )
        return PaymentMethodDetails(
            provider_id=str(method.id),
            kind="card",
            brand=card.get("brand"),
            last4=card.get("last4"),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
        )

    async def _payment_method_id(self, source: Mapping[str, Any]) -> str:
        """A ``payment_method`` id as sent (``pm_card_visa``, ``pm_...`` from Stripe.js), or a
        payment method made from raw card fields (what test servers and test accounts take)."""
        payment_method = source.get("payment_method") or source.get("payment_method_id")
        if isinstance(payment_method, str) and payment_method.startswith("pm_"):
            return payment_method
        card = source.get("card")
        if isinstance(card, Mapping) and all(card.get(key) for key in _CARD_FIELDS):
            async with _provider_errors():
                method = await self.client.v1.payment_methods.create_async(
                    params={
                        "type": "card",
                        "card": {
                            "number": str(card["number"]).replace(" ", ""),
                            "exp_month": int(card["exp_month"]),
                            "exp_year": int(card["exp_year"]),
                            "cvc": str(card["cvc"]),
                        },
                    }
                )
            return str(method.id)
        raise ProviderError(
            "invalid_payment_method",
            "Send a Stripe payment method id (payment_method: pm_...) or, in test mode, "
            "card details (card: number, exp_month, exp_year, cvc).",
        )

    async def detach_payment_method(self, *, provider_id: str) -> None:
        async with _provider_errors():
            await self.client.v1.payment_methods.detach_async(provider_id)

    # -- money -------------------------------------------------------------------------------

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method_id: str | None,
        amount_cents: int,
        currency: str,
        description: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        _check_amount(amount_cents)
        if payment_method_id is None:
            raise ProviderError(
                "payment_method_missing", "There is no payment method to charge; add a card."
            )
        params: dict[str, Any] = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "confirm": True,
            "off_session": True,
            # The description goes into metadata: localstripe refuses the ``description``
            # field of a PaymentIntent. The key too, so that a payment can be matched to
            # its invoice after Stripe forgets its keys (24 hours; decision 0014).
            "metadata": {
                **metadata,
                "description": description[:500],
                "idempotency_key": idempotency_key[:500],
            },
        }
        async with _provider_errors():
            intent = await self.client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        if intent.status == "succeeded":
            return ChargeResult(status="succeeded", provider_charge_id=str(intent.id))
        if intent.status == "processing":
            return ChargeResult(status="pending", provider_charge_id=str(intent.id))
        # No money moved. Stripe itself answers a declined off-session charge with a 402
        # (raised above); an answer with the intent still open says why it stopped here.
        error = intent.to_dict().get("last_payment_error") or {}
        if intent.status == "requires_action":
            # The bank wants 3-D Secure: the cardholder is not there to give it.
            raise ProviderError(
                error.get("code") or "authentication_required",
                error.get("message")
                or "The bank asks the cardholder to authenticate this payment; it cannot be "
                "charged off-session.",
                decline_code=error.get("decline_code"),
            )
        raise ProviderError(
            error.get("code") or "payment_failed",
            error.get("message") or f"The payment did not go through (status {intent.status}).",
            decline_code=error.get("decline_code"),
        )

    async def refund(
        self, *, provider_charge_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult:
        _check_amount(amount_cents)
        target = (
            {"payment_intent": provider_charge_id}
            if provider_charge_id.startswith("pi_")
            else {"charge": provider_charge_id}
        )
        async with _provider_errors():
            refund = await self.client.v1.refunds.create_async(
                params={**target, "amount": amount_cents},  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        return RefundResult(provider_refund_id=str(refund.id), amount_cents=int(refund.amount))

    # -- webhooks ----------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        return verify_stripe_webhook(payload, headers, webhook_secret=self._webhook_secret)


def verify_stripe_webhook(
    payload: bytes, headers: Mapping[str, str], *, webhook_secret: str | None
) -> ProviderEvent:
    """Verify a Stripe delivery with the library's verifier (signature and age) and reduce it
    to a :class:`ProviderEvent`; raises :class:`InvalidWebhook`. Needs only the webhook secret,
    so the platform takes Stripe's events even when it charges through another provider."""
    if not webhook_secret:
        raise InvalidWebhook("SAAS_STRIPE_WEBHOOK_SECRET is not set: no event can verify")
    signature = _header(headers, "stripe-signature")
    if not signature:
        raise InvalidWebhook("the Stripe-Signature header is missing")
    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"), signature, webhook_secret, WEBHOOK_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidWebhook(str(exc)) from exc
    body = event.to_dict()
    event_id = body.get("id")
    event_type = body.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise InvalidWebhook("the event has no id or no type")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return ProviderEvent(id=event_id, type=event_type, data=obj if isinstance(obj, dict) else {})


def _check_amount(amount_cents: int) -> None:
    # A bool is an int to Python; a float never reaches Stripe.
    if type(amount_cents) is not int or amount_cents <= 0:
        raise ProviderError(
            "invalid_amount",
            f"The amount must be a positive integer in minor units, not {amount_cents!r}.",
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


@asynccontextmanager
async def _provider_errors() -> AsyncIterator[None]:
    """Turns the library's errors into :class:`ProviderError` (402 ``BILLING_ERROR`` in the
    API), keeping Stripe's code, message and decline code; never the request or the key."""
    try:
        yield
    except (stripe.AuthenticationError, stripe.PermissionError):
        # The operator's mistake: never counted as a customer's failed payment.
        raise ConfigurationError(
            "Stripe refused the secret key (SAAS_STRIPE_SECRET_KEY)."
        ) from None
    except stripe.APIConnectionError as exc:
        raise ProviderError(
            "provider_unreachable", "The payment provider could not be reached; try again."
        ) from exc
    except stripe.StripeError as exc:
        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        reason = (
            exc.user_message or error.get("message") or "The payment provider refused the request."
        )
        raise ProviderError(
            exc.code or error.get("code") or _code_for(exc),
            reason,
            decline_code=error.get("decline_code"),
        ) from exc


def _code_for(exc: stripe.StripeError) -> str:
    if isinstance(exc, stripe.CardError):
        return "card_declined"
    if isinstance(exc, stripe.RateLimitError):
        return "rate_limited"
    if isinstance(exc, stripe.InvalidRequestError):
        return "invalid_request"
    return "provider_error"
