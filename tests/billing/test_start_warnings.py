"""Stripe chosen without its webhook secret is said at start (``saas serve``'s message and
log), not discovered later as 401s in Stripe's dashboard."""

from __future__ import annotations

from pydantic import SecretStr

from saas_server.billing.providers import configuration_warnings
from saas_server.cli.next_steps import next_steps
from saas_server.core.settings import Settings


def test_stripe_without_a_webhook_secret_is_said_at_start(settings: Settings) -> None:
    stripe = settings.model_copy(
        update={"billing_provider": "stripe", "stripe_secret_key": SecretStr("sk_test_x")}
    )
    [warning] = configuration_warnings(stripe)
    assert "SAAS_STRIPE_WEBHOOK_SECRET is not set" in warning and "401" in warning
    shown = next_steps(
        url="http://127.0.0.1:8000", has_admin=True, emulator_urls=[], warnings=[warning]
    )
    assert f"  Warning: {warning}" in shown
    # Said only when it is so.
    secret = stripe.model_copy(update={"stripe_webhook_secret": SecretStr("whsec_x")})
    assert configuration_warnings(secret) == []
    assert configuration_warnings(settings.model_copy(update={"billing_provider": "manual"})) == []
