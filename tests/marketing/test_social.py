"""Social posts: per-network validation, a post scheduled on the moved clock published once,
signed, to a receiver on loopback; reschedule, cancel, engagement reported back (signed) and
the analytics over it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from saas_server.core import clock as clock_module
from saas_server.core.errors import ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.marketing import social
from saas_server.marketing.social import publish_due_posts
from tests.fixtures.auth import LoggedIn, login, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant
from tests.fixtures.webhook_receiver import running_receiver

# Plain SQL and loopback servers: the same on either database backend.
pytestmark = pytest.mark.once


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"marketing_allow_private": True}


def _email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


async def _agency(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> tuple[LoggedIn, dict[str, Any]]:
    user = await verified_user(client, runtime, inbox, _email())
    tenant = await create_tenant(client, user, f"soc{uuid.uuid4().hex[:10]}")
    return user, tenant


async def _provider(client: httpx.AsyncClient, user: LoggedIn, url: str) -> dict[str, Any]:
    response = await client.put(
        "/api/v1/social/providers/webhook", headers=user.headers, json={"url": url}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _at(minutes: float) -> str:
    return (clock_module.now() + timedelta(minutes=minutes)).isoformat()


async def test_a_post_is_published_once_at_its_time_signed(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    clock: clock_module.FrozenClock,
) -> None:
    user, tenant = await _agency(client, runtime, inbox)
    with running_receiver() as receiver:
        provider = await _provider(client, user, f"{receiver.url}/publish")
        secret = provider["secret"]
        assert secret.startswith("whsec_")
        again = await client.get("/api/v1/social/providers/webhook", headers=user.headers)
        assert again.status_code == 200 and again.json()["secret"] is None

        scheduled = await client.post(
            "/api/v1/social/schedule",
            headers=user.headers,
            json={
                "platform": "linkedin",
                "content": "Our new case study is out!",
                "media": [{"url": "https://cdn.example.com/a.png", "mime_type": "image/png"}],
                "scheduled_time": _at(30),
                "target_audience": {"locations": ["BE"]},
                "client_id": 42,
            },
        )
        assert scheduled.status_code == 201, scheduled.text
        post = scheduled.json()
        assert post["status"] == "scheduled" and post["tenant_id"] == tenant["id"]

        assert await publish_due_posts(runtime) == 0  # not yet due
        clock.advance(minutes=29)
        assert await publish_due_posts(runtime) == 0
        clock.advance(minutes=2)
        # Two sweeps at once (two workers): the post goes out once.
        results = await asyncio.gather(publish_due_posts(runtime), publish_due_posts(runtime))
        assert sorted(results) == [0, 1]
        assert await publish_due_posts(runtime) == 0
        received = receiver.wait_for(1)
        await asyncio.sleep(0.2)
        assert len(receiver.received) == 1

    delivery = received[0]
    # Signed at the moved clock's time, which the library's verify() would call too new:
    # the signature is checked by signing the same message at the same timestamp.
    sent_at = datetime.fromtimestamp(int(delivery.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(delivery.headers["webhook-id"], sent_at, delivery.body.decode())
    assert delivery.headers["webhook-signature"] == expected
    assert abs(sent_at - clock.now()) < timedelta(seconds=2)
    payload = json.loads(delivery.body)
    assert payload["type"] == "social.post.publish"
    assert payload["data"]["id"] == post["id"] and payload["data"]["client_id"] == 42
    assert delivery.headers["webhook-id"] == post["id"]
    user = await login(client, user.email)  # the clock moved past the access token's life
    done = await client.get(f"/api/v1/social/schedule/{post['id']}", headers=user.headers)
    assert done.json()["status"] == "published" and done.json()["published_at"]


async def test_a_dead_worker_leaves_the_post_to_the_next_one_with_the_same_id(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    clock: clock_module.FrozenClock,
) -> None:
    """A worker killed between claiming and recording: after the lease the post is sent
    again with the same webhook-id (what receivers deduplicate on); nothing else repeats."""
    user, _ = await _agency(client, runtime, inbox)
    with running_receiver() as receiver:
        await _provider(client, user, f"{receiver.url}/publish")
        created = await client.post(
            "/api/v1/social/schedule",
            headers=user.headers,
            json={"platform": "x", "content": "hello", "scheduled_time": _at(5)},
        )
        post_id = created.json()["id"]
        clock.advance(minutes=6)

        class Killed(Exception):
            pass

        class DiesAfterSending:
            async def publish(self, post: Any, provider: Any) -> Any:
                raise Killed()

        with pytest.raises(Killed):
            await publish_due_posts(runtime, DiesAfterSending())
        claimed = await client.get(f"/api/v1/social/schedule/{post_id}", headers=user.headers)
        assert claimed.json()["status"] == "publishing"
        assert await publish_due_posts(runtime) == 0  # the lease still holds
        clock.advance(minutes=6)
        assert await publish_due_posts(runtime) == 1
        assert await publish_due_posts(runtime) == 0
        received = receiver.wait_for(1)
    assert [r.headers["webhook-id"] for r in received] == [post_id]


async def test_failures_are_retried_then_recorded(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    clock: clock_module.FrozenClock,
) -> None:
    user, _ = await _agency(client, runtime, inbox)
    with running_receiver(script=[503, 503]) as receiver:
        await _provider(client, user, f"{receiver.url}/publish")
        created = await client.post(
            "/api/v1/social/schedule",
            headers=user.headers,
            json={"platform": "mastodon", "content": "toot", "scheduled_time": _at(1)},
        )
        post_id = created.json()["id"]
        clock.advance(minutes=2)
        assert await publish_due_posts(runtime) == 0
        first = (
            await client.get(f"/api/v1/social/schedule/{post_id}", headers=user.headers)
        ).json()
        assert first["status"] == "scheduled" and first["attempts"] == 1
        assert "503" in first["last_error"]
        clock.advance(minutes=2)
        assert await publish_due_posts(runtime) == 0
        clock.advance(minutes=6)
        assert await publish_due_posts(runtime) == 1
        receiver.wait_for(3)
    final = (await client.get(f"/api/v1/social/schedule/{post_id}", headers=user.headers)).json()
    assert final["status"] == "published" and final["attempts"] == 3


async def test_network_rules_and_bad_input(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user, _ = await _agency(client, runtime, inbox)
    no_provider = await client.post(
        "/api/v1/social/schedule",
        headers=user.headers,
        json={"platform": "x", "content": "hi", "scheduled_time": _at(10)},
    )
    assert_envelope(no_provider, 404, "NOT_FOUND")
    await _provider(client, user, "http://127.0.0.1:9/publish")
    image = {"url": "https://cdn.example.com/a.png", "mime_type": "image/png"}
    video = {"url": "https://cdn.example.com/a.mp4", "mime_type": "video/mp4"}
    bad = [
        ({"platform": "myspace", "content": "hi"}, "platform"),
        ({"platform": "x", "content": "a" * 281}, "content"),
        ({"platform": "x", "content": "hi", "media": [image] * 5}, "media"),
        ({"platform": "instagram", "content": "no picture"}, "media"),
        ({"platform": "tiktok", "content": "dance", "media": [image]}, "media.0.mime_type"),
        (
            {
                "platform": "x",
                "content": "hi",
                "media": [{"url": "u", "mime_type": "application/zip"}],
            },
            "media.0.mime_type",
        ),
        ({"platform": "x", "content": "hi", "scheduled_time": _at(-1)}, "scheduled_time"),
        (
            {"platform": "x", "content": "hi", "scheduled_time": "2030-01-01T10:00:00"},
            "scheduled_time",
        ),
    ]
    for body, field in bad:
        response = await client.post(
            "/api/v1/social/schedule",
            headers=user.headers,
            json={"scheduled_time": _at(10), **body},
        )
        error = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert field in error["details"], (body, error)
    ok = await client.post(
        "/api/v1/social/schedule",
        headers=user.headers,
        json={
            "platform": "tiktok",
            "content": "dance",
            "media": [video],
            "scheduled_time": _at(10),
        },
    )
    assert ok.status_code == 201, ok.text
    unknown = await client.put(
        "/api/v1/social/providers/carrier-pigeon",
        headers=user.headers,
        json={"url": "https://x.test/"},
    )
    assert unknown.status_code == 404


async def test_reschedule_cancel_and_who_sees_what(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, clock: clock_module.FrozenClock
) -> None:
    user, _ = await _agency(client, runtime, inbox)
    stranger, _ = await _agency(client, runtime, inbox)
    await _provider(client, user, "http://127.0.0.1:9/publish")
    created = (
        await client.post(
            "/api/v1/social/schedule",
            headers=user.headers,
            json={"platform": "facebook", "content": "soon", "scheduled_time": _at(60)},
        )
    ).json()
    url = f"/api/v1/social/schedule/{created['id']}"
    assert_envelope(await client.get(url, headers=stranger.headers), 404, "SOCIAL_POST_NOT_FOUND")
    assert_envelope(
        await client.delete(url, headers=stranger.headers), 404, "SOCIAL_POST_NOT_FOUND"
    )
    moved = await client.patch(url, headers=user.headers, json={"scheduled_time": _at(120)})
    assert moved.status_code == 200
    assert moved.json()["scheduled_time"] != created["scheduled_time"]
    past = await client.patch(url, headers=user.headers, json={"scheduled_time": _at(-5)})
    assert_envelope(past, 422, "VALIDATION_ERROR")
    cancelled = await client.delete(url, headers=user.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert_envelope(await client.delete(url, headers=user.headers), 422, "VALIDATION_ERROR")
    clock.advance(hours=3)
    assert await publish_due_posts(runtime) == 0
    user, stranger = await login(client, user.email), await login(client, stranger.email)
    listed = await client.get(
        "/api/v1/social/schedule", headers=user.headers, params={"status": "cancelled"}
    )
    assert [p["id"] for p in listed.json()["results"]] == [created["id"]]
    assert (await client.get("/api/v1/social/schedule", headers=stranger.headers)).json()[
        "count"
    ] == 0


async def test_engagement_reported_signed_feeds_the_analytics(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    clock: clock_module.FrozenClock,
) -> None:
    user, tenant = await _agency(client, runtime, inbox)
    with running_receiver() as receiver:
        provider = await _provider(client, user, f"{receiver.url}/publish")
        ids = []
        for platform in ("x", "x", "linkedin"):
            response = await client.post(
                "/api/v1/social/schedule",
                headers=user.headers,
                json={
                    "platform": platform,
                    "content": f"post on {platform}",
                    "scheduled_time": _at(5),
                },
            )
            ids.append(response.json()["id"])
        clock.advance(minutes=6)
        assert await publish_due_posts(runtime) == 3

    def signed(body: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
        raw = json.dumps(body).encode()
        message_id = f"msg_{uuid.uuid4().hex}"
        # The provider signs at its own (real) time, which the receiving library checks.
        now = datetime.now(UTC)
        signature = Webhook(secret).sign(message_id, now, raw.decode())
        return raw, {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
        }

    ingest = provider["engagement_url"].removeprefix("http://testserver")
    for post_id, figures in zip(
        ids,
        (
            {"impressions": 100, "likes": 10},
            {"impressions": 50, "shares": 5},
            {"impressions": 200, "clicks": 20},
        ),
        strict=True,
    ):
        raw, headers = signed({"post_id": post_id, **figures}, provider["secret"])
        reported = await client.post(ingest, content=raw, headers=headers)
        assert reported.status_code == 200, reported.text
    raw, headers = signed({"post_id": ids[0], "likes": 999}, "whsec_" + "A" * 44)
    forged = await client.post(ingest, content=raw, headers=headers)
    assert forged.status_code == 401

    for path in ("/api/v1/social/analytics", "/api/v1/analytics/social"):
        response = await client.get(path, headers=user.headers, params={"tenant_id": tenant["id"]})
        assert response.status_code == 200, response.text
        platforms = {p["platform"]: p for p in response.json()["platforms"]}
        assert platforms["x"]["published"] == 2 and platforms["x"]["impressions"] == 150
        assert platforms["x"]["likes"] == 10 and platforms["x"]["engagement_rate"] == 0.1
        assert platforms["linkedin"]["clicks"] == 20
    only_x = await client.get(
        "/api/v1/analytics/social", headers=user.headers, params={"platform": "linkedin"}
    )
    assert [p["platform"] for p in only_x.json()["platforms"]] == ["linkedin"]


def test_a_files_api_attachment_over_the_networks_size_limit_is_refused() -> None:
    later = clock_module.now() + timedelta(hours=1)
    picture = {"file_id": "f", "mime_type": "image/png", "size": 5 * social.MB}
    social.validate_post("twitter", "hi", [picture], later)
    with pytest.raises(ValidationFailed) as refused:
        social.validate_post("twitter", "hi", [{**picture, "size": 5 * social.MB + 1}], later)
    assert "media.0.file_id" in (refused.value.details or {})
    # Mastodon takes bigger images; a video's limit is its own.
    social.validate_post("mastodon", "hi", [{**picture, "size": 16 * social.MB}], later)
    clip = {"file_id": "v", "mime_type": "video/mp4", "size": 100 * social.MB + 1}
    with pytest.raises(ValidationFailed):
        social.validate_post("instagram", "hi", [clip], later)
