"""The SDK's behaviour against a running platform: API keys (scopes, confinement, revocation,
the environment), sessions that refresh themselves (once, even under concurrent calls), 429s
retried as Retry-After says with one Idempotency-Key per call, and errors mapped per code."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from saas_platform import (
    AsyncClient,
    AuthenticationError,
    Client,
    EmailTaken,
    PermissionDenied,
    RateLimitExceeded,
    TenantNotFound,
    ValidationError,
)

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.sdk import (
    ANONYMOUS_LIMIT,
    ANONYMOUS_WINDOW_SECONDS,
    Recorder,
    register_verified,
    unique_email,
)
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import Inbox

pytestmark = [pytest.mark.slow, pytest.mark.once]


async def test_api_keys_act_within_their_scopes_and_tenant(
    platform: ServeProcess, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = unique_email("keys")
    await register_verified(platform, inbox, email)
    with Client(email=email, password=DEFAULT_PASSWORD, base_url=platform.base_url) as session:
        tenant = session.tenants.create(name="Keyed", subdomain=f"keyed-{uuid.uuid4().hex[:8]}")
        created = session.api_keys.create(
            name="ci", scopes=["tenants:read", "events:read", "backups:read"]
        )
        assert created.key.startswith("saas_live_") and created.key.startswith(created.prefix)
        confined = session.api_keys.create(
            name="one tenant", scopes=["tenants:read"], tenant_id=tenant.id
        )
        assert {k.id for k in session.api_keys.list()} == {created.id, confined.id}

        # The seed's line, with the key and URL from the environment.
        monkeypatch.setenv("SAAS_PLATFORM_API_KEY", created.key)
        monkeypatch.setenv("SAAS_PLATFORM_URL", platform.base_url)
        with Client() as keyed:
            assert [t.id for t in keyed.tenants.list()] == [tenant.id]
            with pytest.raises(PermissionDenied) as denied:
                keyed.backups.create(tenant.id)
            assert denied.value.status_code == 403 and denied.value.request_id
            with pytest.raises(TenantNotFound):
                keyed.tenants.get(str(uuid.uuid4()))
            # Woken by the stream (poll_interval far past the timeout).
            ready = keyed.tenants.wait_until_ready(tenant.id, timeout=300, poll_interval=600)
            assert ready.status == "ready"

        # A key without events:read may not open the stream: the wait polls instead.
        recorder = Recorder()
        with Client(
            api_key=confined.key, http_client=recorder.sync_client(platform.base_url)
        ) as one_tenant:
            ready = one_tenant.tenants.wait_until_ready(tenant.id, timeout=30, poll_interval=0.2)
            assert ready.status == "ready"
        stream_answers = [
            r.status_code for _, r in recorder.answers if r.url.path.endswith("/events/stream")
        ]
        assert stream_answers == [403]

        session.api_keys.revoke(created.id)
        with (
            Client(api_key=created.key, base_url=platform.base_url) as revoked,
            pytest.raises(AuthenticationError),
        ):
            revoked.tenants.list().page()


async def test_a_session_refreshes_itself_once_and_logs_in_again_when_it_ends(
    platform: ServeProcess, inbox: Inbox
) -> None:
    email = unique_email("session")
    await register_verified(platform, inbox, email)
    recorder = Recorder()
    async with AsyncClient(
        email=email,
        password=DEFAULT_PASSWORD,
        http_client=recorder.async_client(platform.base_url),
    ) as client:
        await client.users.me()
        assert recorder.count("POST", "/api/v1/auth/login") == 1
        assert client._session is not None
        first_refresh_token = client._session.refresh_token

        # The access token is about to expire: ten calls at once refresh it once. A second
        # refresh with the same (rotated) token would make the platform end the session.
        client._session.expires_at = time.monotonic()
        users = await asyncio.gather(*(client.users.me() for _ in range(10)))
        assert {u.email for u in users} == {email}
        assert recorder.count("POST", "/api/v1/auth/refresh") == 1
        assert client._session.refresh_token != first_refresh_token

        # A 401 on a token the platform no longer takes: refreshed, the call sent again.
        client._session.access_token = "not-a-token"
        assert (await client.users.me()).email == email
        assert recorder.count("POST", "/api/v1/auth/refresh") == 2

        # The session itself is gone (its refresh token too): a new login.
        client._session.access_token = "not-a-token"
        client._session.refresh_token = "not-a-refresh-token"
        assert (await client.users.me()).email == email
        assert recorder.count("POST", "/api/v1/auth/login") == 2
        refreshes = [r.status_code for _, r in recorder.answers if r.url.path.endswith("/refresh")]
        assert 401 in refreshes and recorder.count("POST", "/api/v1/auth/refresh") == 2


async def test_429_is_retried_after_retry_after_with_one_idempotency_key(
    platform: ServeProcess,
) -> None:
    recorder = Recorder()
    with Client(
        base_url=platform.base_url,
        max_retries=5,
        http_client=recorder.sync_client(platform.base_url),
    ) as anonymous:
        for _ in range(ANONYMOUS_LIMIT * 2):
            assert anonymous.plans.list().page().count >= 0
        for _ in range(ANONYMOUS_LIMIT + 2):
            anonymous.auth.resend_verification(unique_email("nobody"))

    limited = [(at, r) for at, r in recorder.answers if r.status_code == 429]
    assert limited, "the low anonymous limit was never reached"
    for answered_at, response in limited:
        retry_after = float(response.headers["Retry-After"])
        # Whole seconds, rounded up from the window's reset (an epoch second itself).
        assert 0 < retry_after <= ANONYMOUS_WINDOW_SECONDS + 1
        assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        # The same request went again, no sooner than it was told.
        again = next(
            (at, r)
            for at, r in recorder.sent
            if at > answered_at and r.url.path == response.request.url.path
        )
        assert again[0] - answered_at >= retry_after - 0.05
        if response.request.method == "POST":
            key = response.request.headers["Idempotency-Key"]
            assert again[1].headers["Idempotency-Key"] == key
    assert any(r.request.method == "POST" for _, r in limited)
    # Each call has its own key, kept across its retries.
    posts = [r.headers["Idempotency-Key"] for _, r in recorder.sent if r.method == "POST"]
    assert len(set(posts)) == ANONYMOUS_LIMIT + 2

    # Without retries the error reaches the caller, with the envelope's fields.
    with Client(base_url=platform.base_url, max_retries=0) as impatient:
        with pytest.raises(RateLimitExceeded) as exceeded:
            for _ in range(ANONYMOUS_LIMIT * 2):
                impatient.plans.list().page()
    assert exceeded.value.code == "RATE_LIMIT_EXCEEDED" and exceeded.value.status_code == 429
    assert exceeded.value.retry_after is not None and exceeded.value.retry_after > 0
    assert exceeded.value.request_id


async def test_errors_are_mapped_from_the_envelope(platform: ServeProcess, inbox: Inbox) -> None:
    email = unique_email("errors")
    await register_verified(platform, inbox, email)
    async with AsyncClient(base_url=platform.base_url) as anonymous:
        with pytest.raises(EmailTaken) as taken:
            await anonymous.auth.register(email=email, password=DEFAULT_PASSWORD, full_name="X")
        assert taken.value.status_code == 409 and taken.value.code == "EMAIL_TAKEN"

    async with AsyncClient(
        email=email, password="wrong-password-1", base_url=platform.base_url
    ) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.users.me()

    async with AsyncClient(
        email=email, password=DEFAULT_PASSWORD, base_url=platform.base_url
    ) as client:
        missing = str(uuid.uuid4())
        with pytest.raises(TenantNotFound) as not_found:
            await client.tenants.get(missing)
        error = not_found.value
        assert error.status_code == 404 and error.code == "TENANT_NOT_FOUND"
        assert error.response is not None
        assert error.request_id == error.response.headers["X-Request-ID"]

        with pytest.raises(ValidationError) as invalid:
            await client.tenants.create(name="", subdomain="fine-name")
        assert invalid.value.status_code == 422 and "name" in str(invalid.value.details)

    async with AsyncClient(api_key="saas_live_" + "x" * 43, base_url=platform.base_url) as bad:
        with pytest.raises(AuthenticationError) as refused:
            await bad.tenants.list().page()
        assert refused.value.code == "UNAUTHORIZED"
