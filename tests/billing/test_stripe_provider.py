"""The Stripe provider against localstripe: customers, payment methods, charges, declines,
refunds; and the settings that choose it."""

from __future__ import annotations

import socket
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from saas_server.billing.providers import provider_for
from saas_server.billing.providers.base import ProviderError
from saas_server.billing.providers.stripe import StripeProvider
from saas_server.core.errors import ConfigurationError
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings, check_production_settings
from tests.fixtures.localstripe import SECRET_KEY, recording_proxy

# The provider against localstripe: the platform's database plays no part.
pytestmark = pytest.mark.once


@pytest.fixture
def provider(localstripe: str) -> StripeProvider:
    return StripeProvider(secret_key=SECRET_KEY, webhook_secret=None, api_base=localstripe)


def stripe_object(localstripe: str, path: str) -> dict[str, Any]:
    """What localstripe holds, read over its API (not through the code under test)."""
    answer = httpx.get(
        f"{localstripe}/v1/{path}", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


async def new_customer(provider: StripeProvider) -> str:
    return await provider.ensure_customer(
        account_ref=str(uuid.uuid4()), email="payer@example.com", name="Payer", customer_id=None
    )


VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def card(number: str) -> dict[str, Any]:
    return {"card": {**VISA, "number": number}}


async def test_a_customer_is_made_once_and_carries_our_account(
    provider: StripeProvider, localstripe: str
) -> None:
    account_ref = str(uuid.uuid4())
    customer_id = await provider.ensure_customer(
        account_ref=account_ref, email="payer@example.com", name="Payer", customer_id=None
    )
    assert customer_id.startswith("cus_")
    held = stripe_object(localstripe, f"customers/{customer_id}")
    assert held["email"] == "payer@example.com"
    assert held["metadata"] == {"account_ref": account_ref}
    # Known already: nothing is made again.
    again = await provider.ensure_customer(
        account_ref=account_ref, email="payer@example.com", name="Payer", customer_id=customer_id
    )
    assert again == customer_id


@pytest.mark.parametrize(
    "source",
    [{"payment_method": "pm_card_visa"}, card("4242424242424242")],
    ids=["test-payment-method-id", "raw-test-card"],
)
async def test_a_card_is_attached_and_only_its_safe_details_kept(
    provider: StripeProvider, localstripe: str, source: dict[str, Any]
) -> None:
    customer_id = await new_customer(provider)
    details = await provider.attach_payment_method(customer_id=customer_id, source=source)
    assert details.provider_id.startswith("pm_")
    assert (details.kind, details.brand, details.last4) == ("card", "visa", "4242")
    assert details.exp_month == 12 and details.exp_year in (2030, 2034)
    assert "4242424242424242" not in repr(details)
    assert stripe_object(localstripe, f"payment_methods/{details.provider_id}")["customer"] == (
        customer_id
    )

    await provider.detach_payment_method(provider_id=details.provider_id)
    assert stripe_object(localstripe, f"payment_methods/{details.provider_id}")["customer"] is None


async def test_a_card_declined_when_attached_is_a_provider_error(
    provider: StripeProvider,
) -> None:
    customer_id = await new_customer(provider)
    with pytest.raises(ProviderError) as declined:
        await provider.attach_payment_method(
            customer_id=customer_id, source=card("4000000000000002")
        )
    assert declined.value.code == "card_declined"
    assert "declined" in declined.value.reason


async def test_a_source_that_is_no_payment_method_is_refused(provider: StripeProvider) -> None:
    customer_id = await new_customer(provider)
    for source in ({}, {"payment_method": "tok_visa"}, {"card": {"number": "4242"}}):
        with pytest.raises(ProviderError) as refused:
            await provider.attach_payment_method(customer_id=customer_id, source=source)
        assert refused.value.code == "invalid_payment_method"


async def charge(provider: StripeProvider, customer_id: str, pm: str, **kwargs: Any) -> Any:
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "payment_method_id": pm,
        "amount_cents": 2999,
        "currency": "EUR",
        "description": "Invoice INV-000001",
        "idempotency_key": f"charge-{uuid.uuid4()}",
        "metadata": {"invoice_id": "inv-1"},
    }
    values.update(kwargs)
    return await provider.charge(**values)


async def test_an_off_session_charge_moves_the_exact_amount(
    provider: StripeProvider, localstripe: str
) -> None:
    customer_id = await new_customer(provider)
    pm = await provider.attach_payment_method(
        customer_id=customer_id, source={"payment_method": "pm_card_visa"}
    )
    result = await charge(provider, customer_id, pm.provider_id)
    assert result.status == "succeeded"
    assert result.provider_charge_id is not None
    intent = stripe_object(localstripe, f"payment_intents/{result.provider_charge_id}")
    assert (intent["amount"], intent["currency"], intent["customer"]) == (2999, "eur", customer_id)
    assert intent["status"] == "succeeded"
    assert intent["metadata"]["invoice_id"] == "inv-1"
    # Found again by its key, by whoever reconciles payments after a crash.
    assert intent["metadata"]["idempotency_key"].startswith("charge-")


async def test_a_card_declined_when_charged_is_a_provider_error(
    provider: StripeProvider, localstripe: str
) -> None:
    customer_id = await new_customer(provider)
    # 4000000000000341 attaches, then every charge on it is declined.
    pm = await provider.attach_payment_method(
        customer_id=customer_id, source=card("4000000000000341")
    )
    with pytest.raises(ProviderError) as declined:
        await charge(provider, customer_id, pm.provider_id)
    assert declined.value.code == "card_declined"
    assert declined.value.reason == "Your card was declined."


async def test_amounts_that_are_not_positive_integers_never_reach_stripe(
    provider: StripeProvider,
) -> None:
    customer_id = await new_customer(provider)
    for amount in (29.99, 0, -100, True, "2999"):
        with pytest.raises(ProviderError) as refused:
            await charge(provider, customer_id, "pm_card_visa", amount_cents=amount)
        assert refused.value.code == "invalid_amount"


async def test_a_charge_with_no_payment_method_is_refused(provider: StripeProvider) -> None:
    customer_id = await new_customer(provider)
    with pytest.raises(ProviderError) as refused:
        await charge(provider, customer_id, None)
    assert refused.value.code == "payment_method_missing"


async def test_refunds_whole_and_partial(provider: StripeProvider, localstripe: str) -> None:
    customer_id = await new_customer(provider)
    pm = await provider.attach_payment_method(
        customer_id=customer_id, source={"payment_method": "pm_card_visa"}
    )
    paid = await charge(provider, customer_id, pm.provider_id, amount_cents=5000)
    partial = await provider.refund(
        provider_charge_id=paid.provider_charge_id, amount_cents=1250, idempotency_key="r-1"
    )
    assert partial.amount_cents == 1250
    assert partial.provider_refund_id is not None
    held = stripe_object(localstripe, f"refunds/{partial.provider_refund_id}")
    assert (held["amount"], held["status"]) == (1250, "succeeded")

    with pytest.raises(ProviderError) as refused:
        await provider.refund(
            provider_charge_id=paid.provider_charge_id, amount_cents=12.5, idempotency_key="r-2"
        )
    assert refused.value.code == "invalid_amount"


async def test_an_unreachable_stripe_is_a_provider_error_not_a_crash() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = StripeProvider(
        secret_key=SECRET_KEY, webhook_secret=None, api_base=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(ProviderError) as failed:
        await new_customer(provider)
    assert failed.value.code == "provider_unreachable"


def stripe_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def test_stripe_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    settings = stripe_settings(tmp_path, billing_provider="stripe")
    with pytest.raises(ConfigurationError, match="SAAS_STRIPE_SECRET_KEY is not set"):
        check_production_settings(settings)
    with pytest.raises(ConfigurationError, match="SAAS_STRIPE_SECRET_KEY"):
        provider_for(settings)
    # The manual provider needs no key.
    check_production_settings(stripe_settings(tmp_path))


def test_the_secret_key_is_never_shown(tmp_path: Path, localstripe: str) -> None:
    settings = stripe_settings(
        tmp_path,
        billing_provider="stripe",
        stripe_secret_key="sk_test_do_not_show_me",
        stripe_webhook_secret="whsec_do_not_show_me",
        stripe_api_base=localstripe + "/",
    )
    check_production_settings(settings)
    provider = provider_for(settings)
    assert isinstance(provider, StripeProvider)
    assert provider.name == "stripe"
    for shown in (repr(settings), str(settings), repr(provider), settings.model_dump_json()):
        assert "do_not_show_me" not in shown
    assert settings.stripe_api_base == localstripe
    # The same configuration, the same provider (and its open connections).
    assert provider_for(settings.model_copy()) is provider
    other = settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})
    assert provider_for(other) is not provider


async def test_stripe_gets_our_idempotency_key_and_a_retry_after_a_lost_answer_reuses_it(
    localstripe: str,
) -> None:
    with recording_proxy(localstripe) as proxy:
        provider = StripeProvider(secret_key=SECRET_KEY, webhook_secret=None, api_base=proxy.url)
        account_ref = str(uuid.uuid4())
        customer_id = await provider.ensure_customer(
            account_ref=account_ref, email="payer@example.com", name="Payer", customer_id=None
        )
        pm = await provider.attach_payment_method(
            customer_id=customer_id, source={"payment_method": "pm_card_visa"}
        )
        # The charge reaches Stripe, its answer is lost on the way back: the library tries
        # again, with the same key, which Stripe answers with the first attempt's result.
        proxy.lose_answers[("POST", "/v1/payment_intents")] = 1
        result = await charge(provider, customer_id, pm.provider_id, idempotency_key="inv-7-try-1")
        assert result.status == "succeeded"

        refund = await provider.refund(
            provider_charge_id=str(result.provider_charge_id),
            amount_cents=100,
            idempotency_key="refund-inv-7",
        )
        assert refund.amount_cents == 100

    keys: dict[tuple[str, str], list[str | None]] = defaultdict(list)
    for seen in proxy.seen:
        keys[(seen.method, seen.path)].append(seen.idempotency_key)
    assert keys[("POST", "/v1/customers")] == [f"customer-{account_ref}"]
    assert keys[("POST", "/v1/payment_intents")] == ["inv-7-try-1", "inv-7-try-1"]
    assert keys[("POST", "/v1/refunds")] == ["refund-inv-7"]


async def test_a_runtime_on_stripe_without_a_key_does_not_start(tmp_path: Path) -> None:
    settings = stripe_settings(
        tmp_path,
        billing_provider="stripe",
        secret_key="k" * 40,
        # Never reached: the settings are refused before any database is opened.
        database_url="postgresql://nobody@127.0.0.1:9/none",
    )
    with pytest.raises(ConfigurationError, match="SAAS_STRIPE_SECRET_KEY is not set"):
        await Runtime.open(settings)


async def test_an_unknown_payment_method_is_a_provider_error(provider: StripeProvider) -> None:
    customer_id = await new_customer(provider)
    with pytest.raises(ProviderError) as refused:
        await provider.attach_payment_method(
            customer_id=customer_id, source={"payment_method": "pm_doesnotexist"}
        )
    assert refused.value.code == "invalid_request"
    assert refused.value.reason == "Not Found"
    with pytest.raises(ProviderError):
        await charge(provider, customer_id, "pm_doesnotexist")


async def test_a_card_that_asks_for_3d_secure_cannot_be_charged_off_session(
    provider: StripeProvider,
) -> None:
    customer_id = await new_customer(provider)
    pm = await provider.attach_payment_method(
        customer_id=customer_id, source=card("4000002500003155")
    )
    with pytest.raises(ProviderError) as refused:
        await charge(provider, customer_id, pm.provider_id)
    assert refused.value.code == "authentication_required"
    assert "authenticate" in refused.value.reason
