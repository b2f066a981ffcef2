"""Billing's request and response bodies. Money: ``*_amount_cents`` integers (strict: a
float or a numeric string is refused) with an ISO 4217 ``currency``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, field_validator

from saas_server.billing.models import BillingCycle, RateLimitClass, SubscriptionStatus
from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime

# The ISO 4217 currencies the platform bills in (a plan's price is in one of them).
CURRENCIES = frozenset(
    {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY"}
)

AmountCents = Annotated[StrictInt, Field(ge=0, le=10**12)]
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000)]
PlanCode = Annotated[str, Field(max_length=20, pattern=r"^[a-z][a-z0-9_-]{1,19}$")]


class BackupPolicyBody(RequestSchema):
    daily: Count
    weekly: Count
    monthly: Count
    manual_quota: Count
    manual_retention_days: Count


class BackupPolicyRead(Schema):
    daily: int
    weekly: int
    monthly: int
    manual_quota: int
    manual_retention_days: int


class Price(Schema):
    interval: BillingCycle
    amount_cents: int
    currency: str


class PlanRead(Schema):
    id: uuid.UUID
    code: str
    name: str
    description: str | None
    tier: str = Field(description="The tier a subscription to this plan gives its tenant.")
    max_users: int
    storage_gb: int
    expiration_days: int
    expiration_reason: str
    backup_policy: BackupPolicyRead
    rate_limit_class: RateLimitClass
    currency: str
    prices: list[Price]
    seats_included: int
    extra_seat_amount_cents: int
    trial_days: int
    is_active: bool
    created_at: UTCDateTime
    updated_at: UTCDateTime


class _PlanFields(RequestSchema):
    @field_validator("currency", check_fields=False)
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = value.upper()
        if value not in CURRENCIES:
            raise ValueError(f"Unknown currency; one of {', '.join(sorted(CURRENCIES))}.")
        return value


class PlanCreate(_PlanFields):
    code: PlanCode
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str | None, Field(max_length=2000)] = None
    max_users: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    storage_gb: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    expiration_days: Annotated[StrictInt, Field(ge=1, le=36_500)]
    expiration_reason: Annotated[str, Field(min_length=1, max_length=40)] = "renewal"
    backup_policy: BackupPolicyBody
    rate_limit_class: RateLimitClass = RateLimitClass.STANDARD
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    monthly_amount_cents: AmountCents
    annual_amount_cents: AmountCents
    seats_included: Count = 1
    extra_seat_amount_cents: AmountCents = 0
    trial_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0
    is_active: bool = True


class PlanUpdate(_PlanFields):
    """Every field optional; the code never changes (tenants hold it as their tier)."""

    name: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    description: Annotated[str | None, Field(max_length=2000)] = None
    max_users: Annotated[StrictInt | None, Field(ge=1, le=1_000_000)] = None
    storage_gb: Annotated[StrictInt | None, Field(ge=1, le=1_000_000)] = None
    expiration_days: Annotated[StrictInt | None, Field(ge=1, le=36_500)] = None
    expiration_reason: Annotated[str | None, Field(min_length=1, max_length=40)] = None
    backup_policy: BackupPolicyBody | None = None
    rate_limit_class: RateLimitClass | None = None
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    monthly_amount_cents: AmountCents | None = None
    annual_amount_cents: AmountCents | None = None
    seats_included: Count | None = None
    extra_seat_amount_cents: AmountCents | None = None
    trial_days: Annotated[StrictInt | None, Field(ge=0, le=365)] = None
    is_active: bool | None = None


class SubscriptionRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    plan: str
    status: SubscriptionStatus
    is_active: bool
    start_date: UTCDateTime
    end_date: UTCDateTime | None
    renewal_date: UTCDateTime | None
    billing_cycle: BillingCycle
    user_count: int
    max_users: int
    subscribed_user_ids: list[uuid.UUID]
    has_available_seats: bool
    current_period_start: UTCDateTime
    current_period_end: UTCDateTime
    trial_end: UTCDateTime | None
    cancel_at_period_end: bool
    canceled_at: UTCDateTime | None
    payment_method_id: uuid.UUID | None
    created_at: UTCDateTime
    updated_at: UTCDateTime


SeatCount = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class SubscriptionCreate(RequestSchema):
    tenant_id: uuid.UUID
    plan: Annotated[str, Field(min_length=1, max_length=20)]
    billing_cycle: BillingCycle = BillingCycle.MONTHLY
    max_users: SeatCount | None = None
    payment_method_id: uuid.UUID | None = None


class SubscriptionReplace(RequestSchema):
    """PUT: the changeable fields, all given."""

    plan: Annotated[str, Field(min_length=1, max_length=20)]
    billing_cycle: BillingCycle
    max_users: SeatCount
    payment_method_id: uuid.UUID | None = None
    cancel_at_period_end: bool = False
    is_active: bool | None = Field(
        default=None, description="Seed 003: false cancels the subscription at once."
    )
    end_date: UTCDateTime | None = Field(
        default=None,
        description="Seed 003: when the subscription ends (in the future, after its start); "
        "null or absent: no end scheduled.",
    )


class SubscriptionUpdate(RequestSchema):
    plan: Annotated[str | None, Field(min_length=1, max_length=20)] = None
    billing_cycle: BillingCycle | None = None
    max_users: SeatCount | None = None
    payment_method_id: uuid.UUID | None = None
    cancel_at_period_end: bool | None = None
    is_active: bool | None = Field(
        default=None, description="Seed 003: false cancels the subscription at once."
    )
    end_date: UTCDateTime | None = Field(
        default=None,
        description="When the subscription ends (in the future, after its start); null "
        "removes a scheduled end.",
    )


class SubscriptionCancel(RequestSchema):
    at_period_end: bool = Field(
        default=False, description="Keep it until the current period ends instead of now."
    )


CancelWhen = Literal["now", "period_end"]


class SeatCreate(RequestSchema):
    user_id: uuid.UUID


class SeatChange(Schema):
    """Seed 003's answer to adding or removing a user."""

    subscription_id: uuid.UUID
    user_id: uuid.UUID
    success: bool = True
    user_count: int
    max_users: int


class SeatHolder(Schema):
    id: uuid.UUID
    name: str
    email: str
    is_active: bool


class InvoiceLineRead(Schema):
    id: uuid.UUID
    position: int
    description: str
    quantity: int
    unit_amount_cents: int
    amount_cents: int
    proration: bool
    period_start: UTCDateTime | None
    period_end: UTCDateTime | None


class InvoiceRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    subscription_id: uuid.UUID | None
    kind: str
    credits_invoice_id: uuid.UUID | None
    number: str | None
    status: str
    reason: str
    currency: str
    subtotal_cents: int
    tax_rate_basis_points: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    amount_due_cents: int
    payment_status: str
    seller: dict[str, Any]
    buyer: dict[str, Any]
    period_start: UTCDateTime | None
    period_end: UTCDateTime | None
    due_at: UTCDateTime | None
    finalized_at: UTCDateTime | None
    paid_at: UTCDateTime | None
    voided_at: UTCDateTime | None
    pdf_url: str
    lines: list[InvoiceLineRead] = []
    created_at: UTCDateTime


class InvoiceAction(RequestSchema):
    action: Literal["mark_paid", "void", "refund"]
    amount_cents: Annotated[StrictInt, Field(gt=0, le=10**12)] | None = Field(
        default=None, description="refund: the part of the subtotal credited (all by default)."
    )


class BillingAccountRead(Schema):
    tenant_id: uuid.UUID
    billing_address: str | None
    country: str | None
    tax_id: str | None
    tax_rate_basis_points: int


class BillingAccountUpdate(RequestSchema):
    billing_address: Annotated[str | None, Field(max_length=2000)] = None
    country: Annotated[str | None, Field(max_length=2, pattern=r"^[A-Za-z]{2}$")] = None
    tax_id: Annotated[str | None, Field(max_length=40)] = None


class PaymentMethodCreate(RequestSchema):
    tenant_id: uuid.UUID
    type: Literal["card", "bank_transfer"] = "bank_transfer"
    # Stripe: a payment method id such as ``pm_card_visa`` (the Stripe provider reads it).
    payment_method: Annotated[str | None, Field(max_length=100)] = None
    is_default: bool = True


class PaymentMethodRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    provider: str
    type: str = Field(validation_alias="kind")
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool
    created_at: UTCDateTime


class SubscriptionPreviewRequest(RequestSchema):
    """The change to price; omitted fields keep the subscription's."""

    plan: Annotated[str | None, Field(min_length=1, max_length=20)] = None
    billing_cycle: BillingCycle | None = None
    max_users: SeatCount | None = None


class PreviewLine(Schema):
    description: str
    quantity: int
    unit_amount_cents: int
    amount_cents: int
    proration: bool
    period_start: UTCDateTime | None
    period_end: UTCDateTime | None


class SubscriptionPreview(Schema):
    """What ``PATCH /subscriptions/{id}`` with the same change would do, at ``at``."""

    subscription_id: uuid.UUID
    at: UTCDateTime
    applies: Literal["now", "period_end", "unchanged"] = Field(
        description="now: applied and invoiced at once (an upgrade; any change in a trial); "
        "period_end: applied when the period ends, nothing charged now; unchanged: no change."
    )
    effective_at: UTCDateTime | None
    plan: str
    billing_cycle: str
    max_users: int
    current_period_amount_cents: int
    new_period_amount_cents: int
    currency: str
    lines: list[PreviewLine] = Field(
        description="The invoice's lines charged now: a credit for the unused rest of the "
        "current price and a charge for the rest of the period at the new one."
    )
    subtotal_cents: int
    tax_rate_basis_points: int
    tax_cents: int
    total_cents: int = Field(description="Charged now, in cents (0 unless applies is now).")
