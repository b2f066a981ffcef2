"""Registration asks the tenants domain for its tenant through auth's providers
(auth/registration.py), never by importing tenants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from saas_server.auth import registration
from saas_server.auth.schemas import SignupTenant
from saas_server.core.hooks import HookNotConnected, Provider
from saas_server.tenants import registration as tenant_registration


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"require_email_verification": False}


@pytest.fixture
def asked() -> Iterator[list[tuple[str, ...]]]:
    """The providers replaced by fakes recording what auth asked; put back afterwards."""
    calls: list[tuple[str, ...]] = []

    async def subdomain(_session: Any, _runtime: Any, wanted: str) -> str:
        calls.append(("subdomain", wanted))
        return wanted.removesuffix(".example.test")

    async def tenant(
        _session: Any, _runtime: Any, owner: Any, name: str, sub: str, _client: Any
    ) -> SignupTenant:
        calls.append(("tenant", owner.email, name, sub))
        return SignupTenant(id=uuid.UUID(int=7), name=name, subdomain=sub, status="provisioning")

    registration.SIGNUP_SUBDOMAIN.provide(subdomain)
    registration.SIGNUP_TENANT.provide(tenant)
    yield calls
    tenant_registration.connect()


def test_wiring_connects_the_tenants_domain() -> None:
    assert registration.SIGNUP_SUBDOMAIN.provided
    assert registration.SIGNUP_TENANT.provided


async def test_unprovided_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(HookNotConnected):
        await Provider[[], None]("nothing").ask()


async def test_registration_creates_its_tenant_through_the_provider(
    client: httpx.AsyncClient, asked: list[tuple[str, ...]]
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "founder@example.com",
            "full_name": "Founder",
            "password": "correct-horse-battery-staple-9",
            "tenant_name": "Acme",
            "subdomain": "acme.example.test",
        },
    )
    assert response.status_code == 201, response.text
    assert asked == [
        ("subdomain", "acme.example.test"),
        ("tenant", "founder@example.com", "Acme", "acme"),
    ]
    assert response.json()["tenant"] == {
        "id": str(uuid.UUID(int=7)),
        "name": "Acme",
        "subdomain": "acme",
        "status": "provisioning",
    }
