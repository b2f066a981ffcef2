"""The ``manual`` provider: bank transfer. Nothing moves money here: a charge is
``pending`` until a platform admin marks the invoice paid (admin API or CLI)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from saas_server.billing.providers.base import (
    ChargeResult,
    InvalidWebhook,
    PaymentMethodDetails,
    ProviderError,
    ProviderEvent,
    RefundResult,
)


class ManualProvider:
    name = "manual"

    async def ensure_customer(
        self, *, account_ref: str, email: str, name: str, customer_id: str | None
    ) -> str:
        return customer_id or f"manual_{account_ref}"

    async def attach_payment_method(
        self, *, customer_id: str, source: Mapping[str, Any]
    ) -> PaymentMethodDetails:
        if source.get("type", "bank_transfer") != "bank_transfer":
            raise ProviderError(
                "payment_method_not_available",
                "The manual provider takes bank transfers only",
            )
        return PaymentMethodDetails(provider_id=f"bt_{uuid.uuid4().hex}", kind="bank_transfer")

    async def detach_payment_method(self, *, provider_id: str) -> None:
        return None

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
        # The same key names the same transfer to expect: a retried charge is not a second one.
        reference = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ChargeResult(status="pending", provider_charge_id=f"bt_{reference}")

    async def refund(
        self, *, provider_charge_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult:
        # Paid back by bank transfer, by hand; the credit note records it.
        return RefundResult(provider_refund_id=None, amount_cents=amount_cents)

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        raise InvalidWebhook("The manual provider receives no webhooks")
