"""A unique violation a race causes answers the resource's own 4xx, never a 500 (issue 22 item 5).

Each check runs requests at the same moment, so they all pass the service's "is it free?"
look-up before any of them inserts; the database's unique index decides, and the losers
get what they would have got had they come second.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.core import errors
from saas_server.core.runtime import Runtime
from saas_server.tenants.models import Membership
from saas_server.users.models import User
from saas_server.users.service import EmailTaken
from tests.fixtures.auth import LoggedIn, platform_admin, register
from tests.fixtures.errors import assert_envelope
from tests.fixtures.tenants import create_tenant

PASSWORD = "a-fine-long-passphrase"


async def test_ten_simultaneous_registrations_of_one_email_are_one_201_and_nine_409(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = {"email": "twin@example.com", "password": PASSWORD, "full_name": "Twin"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/register", json=body) for _ in range(10))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}, [
        r.text for r in responses
    ]
    for response in responses:
        if response.status_code == 409:
            assert_envelope(response, 409, "EMAIL_TAKEN")
    async with runtime.db.transaction() as session:
        rows = (await session.execute(select(User).where(User.email == body["email"]))).all()
    assert len(rows) == 1


async def test_simultaneous_tenants_on_one_subdomain_answer_as_a_taken_subdomain(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # Platform admins have no tenant limit, so only the subdomain can refuse them.
    admin = await platform_admin(client, runtime)
    body = {"name": "Twin Ltd", "subdomain": "twin"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/tenants", json=body, headers=admin.headers) for _ in range(6))
    )
    assert Counter(r.status_code for r in responses) == {202: 1, 400: 5}, [
        r.text for r in responses
    ]
    for response in responses:
        if response.status_code == 400:
            error = assert_envelope(response, 400, "INVALID_SUBDOMAIN")
            assert error["details"]["reason"] == "taken"


async def test_simultaneous_adds_of_one_member_are_one_201_and_409s(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, "members")
    await register(client, "joiner@example.com")
    path = f"/api/v1/tenants/{tenant['id']}/users"
    body: dict[str, Any] = {"email": "joiner@example.com", "role": "member"}
    responses = await asyncio.gather(
        *(client.post(path, json=body, headers=owner.headers) for _ in range(6))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 5}, [
        r.text for r in responses
    ]
    for response in responses:
        if response.status_code == 409:
            assert "already a member" in assert_envelope(response, 409, "CONFLICT")["message"]
    async with runtime.db.transaction() as session:
        count = len(
            (
                await session.execute(
                    select(Membership).where(Membership.tenant_id == tenant["id"])
                )
            ).all()
        )
    assert count == 2


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("ix_users_email", EmailTaken),
        ("no_such_constraint", errors.Conflict),
        (None, errors.Conflict),
    ],
)
def test_each_unique_constraint_names_its_error(
    constraint: str | None, expected: type[Exception]
) -> None:
    error = errors.error_for_unique_violation(constraint)
    assert type(error) is expected
    assert error.status_code == 409
