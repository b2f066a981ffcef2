"""The SDK's event stream through a connection that breaks: it reconnects by itself with
Last-Event-ID, and the event sent while it was away arrives, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from saas_platform import AsyncClient, AuthenticationError, Event

from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.fixtures.sdk import CuttableProxy, Recorder, register_verified, unique_email
from tests.fixtures.serve import ServeProcess
from tests.fixtures.smtp import Inbox

pytestmark = [pytest.mark.slow, pytest.mark.once]


@pytest.fixture
def proxy(platform: ServeProcess) -> Iterator[CuttableProxy]:
    port = urlsplit(platform.base_url).port
    assert port is not None
    front = CuttableProxy(port)
    yield front
    front.close()


async def test_a_broken_stream_resumes_after_the_last_event(
    platform: ServeProcess, inbox: Inbox, proxy: CuttableProxy
) -> None:
    email = unique_email("stream")
    await register_verified(platform, inbox, email)
    recorder = Recorder()
    received: asyncio.Queue[Event] = asyncio.Queue()

    async with (
        AsyncClient(email=email, password=DEFAULT_PASSWORD, base_url=platform.base_url) as direct,
        AsyncClient(
            email=email,
            password=DEFAULT_PASSWORD,
            http_client=recorder.async_client(proxy.url),
            retry_initial_delay=0.2,
        ) as through_proxy,
    ):

        async def follow() -> None:
            async for event in through_proxy.events.stream():
                if event.type == "user.updated":
                    await received.put(event)

        def stream_requests() -> list[tuple[int, str | None]]:
            return [
                (r.status_code, r.request.headers.get("Last-Event-ID"))
                for _, r in recorder.answers
                if r.url.path.endswith("/events/stream")
            ]

        async def stream_opened(count: int) -> None:
            while len(stream_requests()) < count:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the answer's headers come just before `: ready`

        follower = asyncio.create_task(follow())
        try:
            await asyncio.wait_for(stream_opened(1), 30)
            await direct.auth.update_profile(full_name="First Name")
            first = await asyncio.wait_for(received.get(), 30)
            assert first.data["full_name"] == "First Name" and first.id is not None

            proxy.cut()
            await direct.auth.update_profile(full_name="Second Name")
            second = await asyncio.wait_for(received.get(), 30)
            assert second.data["full_name"] == "Second Name"
            assert second.id is not None and int(second.id) > int(first.id)

            await asyncio.sleep(1)
            assert received.empty(), "an event came twice"
            assert stream_requests() == [(200, None), (200, first.id)]
        finally:
            follower.cancel()
            with pytest.raises(asyncio.CancelledError):
                await follower


async def test_a_keys_stream_ends_with_an_authentication_error_once_the_key_is_revoked(
    platform: ServeProcess, inbox: Inbox
) -> None:
    email = unique_email("revoked")
    await register_verified(platform, inbox, email)
    async with AsyncClient(
        email=email, password=DEFAULT_PASSWORD, base_url=platform.base_url
    ) as session:
        created = await session.api_keys.create(name="stream", scopes=["events:read"])
        async with AsyncClient(api_key=created.key, base_url=platform.base_url) as by_key:
            opened = asyncio.Event()

            async def follow() -> None:
                async for message in by_key._stream_messages():
                    if message.comment == "ready":
                        opened.set()

            follower = asyncio.create_task(follow())
            await asyncio.wait_for(opened.wait(), 30)
            await session.api_keys.revoke(created.id)
            # The platform closes the stream; the SDK reconnects and meets a 401.
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(follower, 30)
