"""Payment providers behind one interface (``base.py``); the settings choose one."""

from __future__ import annotations

from saas_platform.billing.providers.base import PaymentProvider
from saas_platform.billing.providers.manual import ManualProvider
from saas_platform.core.errors import ConfigurationError
from saas_platform.core.settings import Settings


def provider_for(settings: Settings) -> PaymentProvider:
    """``SAAS_BILLING_PROVIDER``: ``manual`` (the default). The Stripe provider joins here."""
    if settings.billing_provider == "manual":
        return ManualProvider()
    raise ConfigurationError(
        f"SAAS_BILLING_PROVIDER={settings.billing_provider!r} is not a payment provider "
        "this platform has; use manual."
    )
