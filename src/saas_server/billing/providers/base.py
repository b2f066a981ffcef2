"""The one interface every payment provider implements (``manual``, ``stripe``).

The billing engine (plans, subscriptions, invoices, dunning) is ours and lives in our
PostgreSQL; a provider only holds customers and payment methods and moves money. Every
amount is an integer in minor units with an ISO 4217 currency (lower case on the wire to
Stripe, upper case in our API); nothing here is ever a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ChargeStatus = Literal["succeeded", "pending", "failed"]


class ProviderError(Exception):
    """The provider refused or failed (declined card, unknown payment method, network).

    ``code`` is the provider's own code (``card_declined``, ``expired_card``, ...) and
    ``reason`` its human message; the API turns this into a 402 ``BILLING_ERROR`` with
    both in ``details``.
    """

    def __init__(self, code: str, reason: str, *, decline_code: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.decline_code = decline_code


class InvalidWebhook(Exception):
    """A provider webhook whose signature does not verify (the API answers 401)."""


@dataclass(frozen=True)
class PaymentMethodDetails:
    """What we keep of a payment method: never a full card number, never a CVC."""

    provider_id: str  # the provider's id (``pm_...`` at Stripe; ours for manual)
    kind: Literal["card", "bank_transfer"]
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class ChargeResult:
    """``succeeded``: money moved. ``pending``: awaiting the payer (a bank transfer an
    admin marks paid later). A decline raises :class:`ProviderError` instead."""

    status: ChargeStatus
    provider_charge_id: str | None


@dataclass(frozen=True)
class RefundResult:
    provider_refund_id: str | None
    amount_cents: int


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook from the provider, reduced to what billing acts on."""

    id: str  # the provider's event id: the key for "acknowledged, not applied twice"
    type: str  # the provider's event type (``payment_intent.succeeded``, ...)
    data: Mapping[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str  # "manual" | "stripe"

    async def ensure_customer(
        self, *, account_ref: str, email: str, name: str, customer_id: str | None
    ) -> str:
        """The provider's customer id for this billing account, created when ``customer_id``
        is None. ``account_ref`` is our billing account's id (kept in the provider's metadata)."""
        ...

    async def attach_payment_method(
        self, *, customer_id: str, source: Mapping[str, Any]
    ) -> PaymentMethodDetails:
        """Attach what the client sent (a Stripe ``payment_method`` id such as ``pm_card_visa``
        or card details for test servers; ``{"type": "bank_transfer"}`` for manual)."""
        ...

    async def detach_payment_method(self, *, provider_id: str) -> None: ...

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
        """Charge off-session. The same ``idempotency_key`` never charges twice."""
        ...

    async def refund(
        self, *, provider_charge_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult: ...

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify the signature (raises :class:`InvalidWebhook`) and parse the event."""
        ...
