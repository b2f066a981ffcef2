"""The invoice and subscription lifecycles as transition tables (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_server.billing.models import InvoiceStatus, SubscriptionStatus
from saas_server.core.lifecycle import Lifecycle

I = InvoiceStatus  # noqa: E741
S = SubscriptionStatus


class InvoiceAction(enum.StrEnum):
    FINALIZE = "finalize"  # numbered (gapless) and frozen; due
    PAY = "pay"  # the provider's charge succeeded, or an admin marked it paid
    MARK_UNCOLLECTIBLE = "mark_uncollectible"  # dunning gave up
    VOID = "void"  # canceled by an admin; a credit note corrects a paid one instead


INVOICE: Lifecycle[InvoiceStatus, InvoiceAction] = Lifecycle(
    "invoice",
    {
        (I.DRAFT, InvoiceAction.FINALIZE): I.OPEN,
        (I.DRAFT, InvoiceAction.VOID): I.VOID,
        (I.OPEN, InvoiceAction.PAY): I.PAID,
        (I.OPEN, InvoiceAction.MARK_UNCOLLECTIBLE): I.UNCOLLECTIBLE,
        (I.OPEN, InvoiceAction.VOID): I.VOID,
        (I.UNCOLLECTIBLE, InvoiceAction.PAY): I.PAID,
        (I.UNCOLLECTIBLE, InvoiceAction.VOID): I.VOID,
    },
    initial=(I.DRAFT,),
    final=(I.PAID, I.VOID),
    source="saas_server/billing/lifecycle.py",
    description="""\
Stripe's invoice states. A draft may still change; finalising gives it the next number of
its year without gaps (the number is taken in the finalising transaction) and freezes its
lines and totals. An open invoice is paid by the provider's charge or by an admin (manual
bank transfer), voided by an admin, or marked uncollectible when dunning gives up (it may
still be paid later). A paid invoice is corrected by a credit note, never edited.""",
)


class SubscriptionAction(enum.StrEnum):
    ACTIVATE = "activate"  # a trial's or a renewal's invoice is paid
    PAYMENT_FAILED = "payment_failed"  # a renewal's charge failed: dunning starts
    SUSPEND = "suspend"  # dunning ran out: the tenant is suspended
    CANCEL = "cancel"


SUBSCRIPTION: Lifecycle[SubscriptionStatus, SubscriptionAction] = Lifecycle(
    "subscription",
    {
        (S.TRIALING, SubscriptionAction.ACTIVATE): S.ACTIVE,
        (S.ACTIVE, SubscriptionAction.ACTIVATE): S.ACTIVE,
        (S.PAST_DUE, SubscriptionAction.ACTIVATE): S.ACTIVE,
        (S.UNPAID, SubscriptionAction.ACTIVATE): S.ACTIVE,
        (S.TRIALING, SubscriptionAction.PAYMENT_FAILED): S.PAST_DUE,
        (S.ACTIVE, SubscriptionAction.PAYMENT_FAILED): S.PAST_DUE,
        (S.PAST_DUE, SubscriptionAction.PAYMENT_FAILED): S.PAST_DUE,
        (S.PAST_DUE, SubscriptionAction.SUSPEND): S.UNPAID,
        (S.TRIALING, SubscriptionAction.SUSPEND): S.UNPAID,
        (S.TRIALING, SubscriptionAction.CANCEL): S.CANCELED,
        (S.ACTIVE, SubscriptionAction.CANCEL): S.CANCELED,
        (S.PAST_DUE, SubscriptionAction.CANCEL): S.CANCELED,
        (S.UNPAID, SubscriptionAction.CANCEL): S.CANCELED,
        (S.PAUSED, SubscriptionAction.CANCEL): S.CANCELED,
    },
    initial=(S.TRIALING, S.ACTIVE),
    final=(S.CANCELED,),
    source="saas_server/billing/lifecycle.py",
    description="""\
Stripe's subscription states. A plan with trial days starts `trialing`, else `active`.
A renewal whose charge fails makes it `past_due` while dunning retries; when the retries
run out (or a trial ends with no payment method) it becomes `unpaid` and the tenant is
suspended. Paying the open invoice makes it `active` again. Canceling is at once, or at
the period's end (`cancel_at_period_end`).""",
)
