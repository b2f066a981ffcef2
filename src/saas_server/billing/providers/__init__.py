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
