"""Payment providers behind one interface (``base.py``): ``manual`` (bank transfer, the
default) and ``stripe``; ``SAAS_BILLING_PROVIDER`` chooses one."""

from __future__ import annotations

from saas_server.billing.providers.base import PaymentProvider
from saas_server.billing.providers.manual import ManualProvider
from saas_server.billing.providers.stripe import StripeProvider
from saas_server.core.errors import ConfigurationError
from saas_server.core.settings import Settings

_shared_providers: dict[tuple[str, ...], StripeProvider] = {}


def provider_for(settings: Settings) -> PaymentProvider:
    """The payment provider ``SAAS_BILLING_PROVIDER`` names, built from the settings."""
    if settings.billing_provider == "manual":
        return ManualProvider()
    if settings.billing_provider == "stripe":
        provider = StripeProvider.from_settings(settings)
        # One provider per configuration, so its HTTP connections (and TLS sessions) to
        # Stripe are reused from one charge to the next instead of opened for each.
        return _shared_providers.setdefault(provider.configuration, provider)
    raise ConfigurationError(
        f"SAAS_BILLING_PROVIDER {settings.billing_provider!r} is not a payment provider "
        "this platform has; use 'manual' or 'stripe'."
    )


def configuration_warnings(settings: Settings) -> list[str]:
    """What is missing for the chosen provider to work fully, said at start (``saas
    serve`` prints it and logs it): without a webhook secret every Stripe webhook is
    refused 401, which a new operator would otherwise find only in Stripe's dashboard."""
    if settings.billing_provider == "stripe" and settings.stripe_webhook_secret is None:
        return [
            "SAAS_BILLING_PROVIDER is 'stripe' but SAAS_STRIPE_WEBHOOK_SECRET is not set: "
            "Stripe's webhooks to /api/v1/billing/webhooks/stripe are refused (401) until it "
            "is (the endpoint's signing secret, whsec_..., from Stripe's dashboard)."
        ]
    return []
