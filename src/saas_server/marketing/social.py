"""Social posts: validated per network, scheduled, published at their time through a provider,
and their engagement figures taken back from the provider.

Real networks need the internet, so the default provider, ``webhook``, posts each due post to
a URL the agency configures, signed like our outbound webhooks (Standard Webhooks, the
provider's own secret): any automation tool (n8n, Zapier, Make, a script) publishes it from
there. Providers for real networks plug in behind ``Publisher``.

Publishing is at least once with a stable identity: a sweep claims due posts (``FOR UPDATE
SKIP LOCKED``, so two workers never take the same post), marks them ``publishing`` in its
own transaction, sends, and marks them ``published``. A worker killed after sending and
before recording leaves the post ``publishing``; once its lease has passed it is sent again
with the same ``webhook-id`` (the post's id), which receivers use to drop the repeat, as the
Standard Webhooks spec asks them to.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.errors import NotFound, ValidationFailed
from saas_server.core.outbound import UnsafeURL, post_pinned, resolve, split_url
from saas_server.core.runtime import Runtime
from saas_server.events.service import emit
from saas_server.marketing.models import PostStatus, ScheduledPost, SocialProvider
from saas_server.marketing.service import Viewer, visible_rows
from saas_server.portal.models import PortalFile
from saas_server.users.models import User
from saas_server.webhooks.signing import new_secret, signed_headers

logger = logging.getLogger(__name__)

PUBLISH_DUE_TASK = "marketing.publish_due_posts"
POST_PUBLISHED = "social.post_published"
POST_FAILED = "social.post_failed"
PROVIDER_NAMES = ("webhook",)
PUBLISH_BATCH = 50
PUBLISH_TIMEOUT_SECONDS = 15.0
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
# After a failed attempt: 1, 5, 15, 60 minutes.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)


MB = 1024 * 1024


@dataclass(frozen=True)
class Network:
    max_chars: int
    max_media: int
    media_types: frozenset[str]
    requires_media: bool = False
    requires_video: bool = False
    # Largest attachment of each kind, checked for files from the files API (whose size is
    # known); a URL's size is the network's to check when it fetches it.
    max_image_bytes: int = 5 * MB
    max_video_bytes: int = 512 * MB
    max_document_bytes: int = 100 * MB

    def max_bytes(self, mime_type: str) -> int:
        if mime_type in VIDEO:
            return self.max_video_bytes
        if mime_type in IMAGES:
            return self.max_image_bytes
        return self.max_document_bytes


IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEO = frozenset({"video/mp4", "video/quicktime"})

# Each network's published limits for a post (text length in characters, attachments, and the
# size of an image and a video: the smaller figure where a network documents several).
NETWORKS: dict[str, Network] = {
    "twitter": Network(280, 4, IMAGES | VIDEO),
    "x": Network(280, 4, IMAGES | VIDEO),
    "linkedin": Network(
        3000,
        9,
        IMAGES | VIDEO | {"application/pdf"},
        max_image_bytes=8 * MB,
        max_video_bytes=200 * MB,
    ),
    "facebook": Network(
        63206, 10, IMAGES | VIDEO, max_image_bytes=10 * MB, max_video_bytes=1024 * MB
    ),
    "instagram": Network(
        2200,
        10,
        IMAGES | VIDEO,
        requires_media=True,
        max_image_bytes=8 * MB,
        max_video_bytes=100 * MB,
    ),
    "tiktok": Network(
        2200, 1, VIDEO, requires_media=True, requires_video=True, max_video_bytes=287 * MB
    ),
    "mastodon": Network(500, 4, IMAGES | VIDEO, max_image_bytes=16 * MB, max_video_bytes=99 * MB),
}


class PostNotFound(NotFound):
    code = "SOCIAL_POST_NOT_FOUND"
    message = "Scheduled post not found"


class ProviderNotConfigured(ValidationFailed):
    pass


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field: [message]})


def validate_post(
    platform: str, content: str, media: list[dict[str, Any]], scheduled_time: datetime
) -> None:
    network = NETWORKS.get(platform)
    if network is None:
        raise _invalid("platform", f"one of {', '.join(sorted(NETWORKS))}")
    if len(content) > network.max_chars:
        raise _invalid(
            "content", f"{platform} takes at most {network.max_chars} characters ({len(content)})"
        )
    if not content.strip() and not media:
        raise _invalid("content", "a post needs text or media")
    if len(media) > network.max_media:
        raise _invalid("media", f"{platform} takes at most {network.max_media} attachments")
    if network.requires_media and not media:
        raise _invalid("media", f"{platform} posts need an image or a video")
    for index, item in enumerate(media):
        kind = item.get("mime_type")
        if kind not in network.media_types:
            allowed = ", ".join(sorted(network.media_types))
            where = "file_id" if item.get("file_id") else "mime_type"
            raise _invalid(f"media.{index}.{where}", f"{platform} takes {allowed} (not {kind})")
        size = item.get("size")
        if isinstance(size, int) and size > network.max_bytes(kind):
            raise _invalid(
                f"media.{index}.file_id",
                f"{platform} takes files of this type up to {network.max_bytes(kind)} bytes "
                f"({size})",
            )
    if network.requires_video and not any(m.get("mime_type") in VIDEO for m in media):
        raise _invalid("media", f"{platform} posts need a video")
    if scheduled_time.tzinfo is None:
        raise _invalid("scheduled_time", "give a time zone (e.g. 2026-12-24T09:00:00Z)")
    if scheduled_time <= clock.now():
        raise _invalid("scheduled_time", "the time must be in the future")


# -- providers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishResult:
    external_id: str | None


class PublishFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Publisher(Protocol):
    async def publish(self, post: ScheduledPost, provider: SocialProvider) -> PublishResult: ...


class WebhookPublisher:
    """Posts the post, signed, to the agency's URL; a 2xx is a publication (its JSON ``id``,
    when it gives one, is kept as the network's id)."""

    def __init__(self, runtime: Runtime, http: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.http = http

    async def publish(self, post: ScheduledPost, provider: SocialProvider) -> PublishResult:
        url = str(provider.config.get("url") or "")
        try:
            target = await resolve(url, allow_private=self.runtime.settings.marketing_allow_private)
        except UnsafeURL as exc:
            raise PublishFailed(exc.reason, permanent=True) from exc
        body = json.dumps(
            {
                "type": "social.post.publish",
                "timestamp": clock.now().isoformat(),
                "data": post_payload(post),
            },
            separators=(",", ":"),
        ).encode()
        secret = self.runtime.secrets.decrypt(provider.secret_encrypted, provider_aad(provider))
        headers = signed_headers(str(post.id), body, [secret], clock.now())
        try:
            answer = await post_pinned(
                self.http,
                target,
                content=body,
                headers=headers,
                timeout_seconds=PUBLISH_TIMEOUT_SECONDS,
                max_body=4096,
            )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise PublishFailed(f"{type(exc).__name__} from {url}") from exc
        if not 200 <= answer.status_code < 300:
            raise PublishFailed(f"{url} answered {answer.status_code}")
        external = None
        try:
            parsed = json.loads(answer.excerpt or b"null")
            if isinstance(parsed, dict) and parsed.get("id") is not None:
                external = str(parsed["id"])[:255]
        except ValueError:
            pass
        return PublishResult(external_id=external)


def post_payload(post: ScheduledPost) -> dict[str, Any]:
    return {
        "id": str(post.id),
        "tenant_id": str(post.tenant_id),
        "client_id": post.client_id,
        "platform": post.platform,
        "content": post.content,
        "media": post.media,
        "target_audience": post.target_audience,
        "scheduled_time": post.scheduled_time.isoformat(),
    }


def provider_aad(provider: SocialProvider) -> bytes:
    return f"social-provider:{provider.tenant_id}:{provider.name}".encode()


# -- providers' configuration -----------------------------------------------------------------


async def configure_provider(
    session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID, name: str, url: str
) -> tuple[SocialProvider, str | None]:
    """Create or change a tenant's provider; a new one gets a signing secret, returned this
    once (None when the provider existed: its secret is kept)."""
    if name not in PROVIDER_NAMES:
        raise NotFound(f"No social provider named {name!r} (known: {', '.join(PROVIDER_NAMES)})")
    split_url(url)
    await resolve(url, allow_private=runtime.settings.marketing_allow_private)
    provider = (
        await session.execute(
            select(SocialProvider)
            .where(SocialProvider.tenant_id == tenant_id, SocialProvider.name == name)
            .with_for_update()
        )
    ).scalar_one_or_none()
    secret: str | None = None
    if provider is None:
        provider = SocialProvider(tenant_id=tenant_id, name=name, config={"url": url})
        secret = new_secret()
        provider.secret_encrypted = runtime.secrets.encrypt(secret, provider_aad(provider))
        session.add(provider)
    else:
        provider.config = {**provider.config, "url": url}
    await session.flush()
    return provider, secret


async def get_provider(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> SocialProvider:
    provider = (
        await session.execute(
            select(SocialProvider).where(
                SocialProvider.tenant_id == tenant_id, SocialProvider.name == name
            )
        )
    ).scalar_one_or_none()
    if provider is None:
        raise NotFound(f"The social provider {name!r} is not configured for this tenant")
    return provider


# -- scheduling -----------------------------------------------------------------------------


def visible_posts(actor: Viewer) -> Any:
    return visible_rows(ScheduledPost, actor)


async def get_post(session: AsyncSession, actor: Viewer, post_id: uuid.UUID) -> ScheduledPost:
    found = (
        await session.execute(visible_posts(actor).where(ScheduledPost.id == post_id))
    ).scalar_one_or_none()
    if found is None:
        raise PostNotFound()
    return found


async def schedule_post(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    client_id: int | None,
    platform: str,
    content: str,
    media: list[dict[str, Any]],
    scheduled_time: datetime,
    target_audience: dict[str, Any],
    provider: str,
    actor: User,
    runtime_url: str,
) -> ScheduledPost:
    media = await resolve_media(session, runtime_url, tenant_id, client_id, media)
    validate_post(platform, content, media, scheduled_time)
    await get_provider(session, tenant_id, provider)
    post = ScheduledPost(
        tenant_id=tenant_id,
        client_id=client_id,
        platform=platform,
        content=content,
        media=media,
        scheduled_time=scheduled_time,
        target_audience=target_audience,
        provider=provider,
        status=PostStatus.SCHEDULED.value,
        attempts=0,
        next_attempt_at=scheduled_time,
        created_by=actor.id,
    )
    session.add(post)
    await session.flush()
    return post


class MediaFileNotFound(NotFound):
    code = "FILE_NOT_FOUND"
    message = "File not found"


async def resolve_media(
    session: AsyncSession,
    public_url: str,
    tenant_id: uuid.UUID,
    client_id: int | None,
    media: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each attachment as the post stores it: a URL with its declared type, or a file of the
    files API (`POST /api/v1/files/upload`): of the post's tenant, and of the post's client
    when it has one; its type is the one `filetype` read from its content at upload, never a
    name or a declaration, and its size is checked against the network's limit."""
    resolved: list[dict[str, Any]] = []
    for index, item in enumerate(media):
        raw = item.get("file_id")
        if raw is None:
            resolved.append({"url": item["url"], "mime_type": item["mime_type"]})
            continue
        try:
            wanted = uuid.UUID(str(raw))
        except ValueError:
            wanted = None
        stmt = select(PortalFile).where(
            PortalFile.id == wanted,
            PortalFile.tenant_id == tenant_id,
            PortalFile.deleted_at.is_(None),
        )
        if client_id is not None:
            stmt = stmt.where(PortalFile.commercial_id == client_id)
        row = None if wanted is None else (await session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise MediaFileNotFound(
                "No such file of this tenant (and client)",
                details={f"media.{index}.file_id": ["not found"]},
            )
        resolved.append(
            {
                "file_id": str(row.id),
                # The publishing tool downloads it with a member's API key (scope
                # portal:read), which names the tenant.
                "url": f"{public_url.rstrip('/')}/api/v1/files/{row.id}/download"
                f"?tenant_id={tenant_id}",
                "mime_type": row.mimetype,
                "size": row.size,
                "name": row.name,
                "sha256": row.sha256,
            }
        )
    return resolved


def _require_scheduled(post: ScheduledPost) -> None:
    if post.status != PostStatus.SCHEDULED.value:
        raise ValidationFailed(
            f"The post is {post.status}: only scheduled posts change",
            details={"status": [post.status]},
        )


async def reschedule(
    post: ScheduledPost, *, scheduled_time: datetime | None, content: str | None
) -> ScheduledPost:
    _require_scheduled(post)
    when = scheduled_time or post.scheduled_time
    text = content if content is not None else post.content
    validate_post(post.platform, text, post.media, when)
    post.scheduled_time = when
    post.next_attempt_at = when
    post.content = text
    return post


async def cancel(post: ScheduledPost) -> ScheduledPost:
    _require_scheduled(post)
    post.status = PostStatus.CANCELLED.value
    return post


# -- publishing -------------------------------------------------------------------------------


async def publish_due_posts(runtime: Runtime, publisher: Publisher | None = None) -> int:
    """Publish every post due now (and every one whose publishing worker died): the count
    published."""
    published = 0
    async with httpx.AsyncClient() as http:
        chosen = publisher or WebhookPublisher(runtime, http)
        while True:
            claimed = await _claim(runtime)
            if not claimed:
                return published
            for post_id in claimed:
                published += await _publish_one(runtime, chosen, post_id)


async def _claim(runtime: Runtime) -> list[uuid.UUID]:
    now = clock.now()
    async with runtime.db.transaction() as session:
        rows = (
            (
                await session.execute(
                    select(ScheduledPost)
                    .where(
                        or_(
                            (ScheduledPost.status == PostStatus.SCHEDULED.value)
                            & (ScheduledPost.next_attempt_at <= now),
                            (ScheduledPost.status == PostStatus.PUBLISHING.value)
                            & (ScheduledPost.lease_until <= now),
                        )
                    )
                    .order_by(ScheduledPost.next_attempt_at)
                    .limit(PUBLISH_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for post in rows:
            post.status = PostStatus.PUBLISHING.value
            post.lease_until = now + LEASE
            post.attempts += 1
        return [post.id for post in rows]


async def _publish_one(runtime: Runtime, publisher: Publisher, post_id: uuid.UUID) -> int:
    async with runtime.db.transaction() as session:
        post = await session.get(ScheduledPost, post_id)
        assert post is not None
        provider = await get_provider(session, post.tenant_id, post.provider)
        session.expunge(post)
        session.expunge(provider)
    error: PublishFailed | None = None
    result: PublishResult | None = None
    try:
        result = await publisher.publish(post, provider)
    except PublishFailed as exc:
        error = exc
    async with runtime.db.transaction() as session:
        row = await session.get(ScheduledPost, post_id, with_for_update=True)
        assert row is not None
        if row.status != PostStatus.PUBLISHING.value:
            return 0
        if result is not None:
            row.status = PostStatus.PUBLISHED.value
            row.published_at = clock.now()
            row.external_id = result.external_id
            row.last_error = None
            await emit(session, POST_PUBLISHED, post_payload(row), tenant_id=row.tenant_id)
            return 1
        assert error is not None
        row.last_error = str(error)
        if error.permanent or row.attempts >= MAX_ATTEMPTS:
            row.status = PostStatus.FAILED.value
            await emit(
                session,
                POST_FAILED,
                {**post_payload(row), "error": str(error)},
                tenant_id=row.tenant_id,
            )
        else:
            row.status = PostStatus.SCHEDULED.value
            row.next_attempt_at = (
                clock.now() + RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
            )
        return 0


# -- engagement and analytics -----------------------------------------------------------------

ENGAGEMENT_FIELDS = ("impressions", "likes", "comments", "shares", "clicks")


async def record_engagement(
    session: AsyncSession, post_id: uuid.UUID, tenant_id: uuid.UUID, figures: dict[str, int]
) -> ScheduledPost:
    post = (
        await session.execute(
            select(ScheduledPost)
            .where(ScheduledPost.id == post_id, ScheduledPost.tenant_id == tenant_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if post is None:
        raise PostNotFound()
    post.engagement = {**post.engagement, **figures, "reported_at": clock.now().isoformat()}
    return post


async def social_analytics(
    session: AsyncSession,
    actor: Viewer,
    *,
    tenant_id: uuid.UUID | None,
    client_id: int | None,
    platform: str | None,
    start: datetime | None,
    end: datetime | None,
    start_date: date | None,
    end_date: date | None,
) -> dict[str, Any]:
    stmt = visible_posts(actor)
    if tenant_id is not None:
        stmt = stmt.where(ScheduledPost.tenant_id == tenant_id)
    if client_id is not None:
        stmt = stmt.where(ScheduledPost.client_id == client_id)
    if platform is not None:
        stmt = stmt.where(ScheduledPost.platform == platform)
    if start is not None:
        stmt = stmt.where(ScheduledPost.scheduled_time >= start)
    if end is not None:
        stmt = stmt.where(ScheduledPost.scheduled_time < end)
    posts = (await session.execute(stmt)).scalars().all()
    per_platform: dict[str, dict[str, Any]] = {}
    for post in posts:
        entry = per_platform.setdefault(
            post.platform,
            {
                "platform": post.platform,
                "scheduled": 0,
                "published": 0,
                "failed": 0,
                "cancelled": 0,
                "publishing": 0,
                **dict.fromkeys(ENGAGEMENT_FIELDS, 0),
            },
        )
        entry[post.status] += 1
        for name in ENGAGEMENT_FIELDS:
            value = post.engagement.get(name)
            if isinstance(value, int):
                entry[name] += value
    for entry in per_platform.values():
        reach = entry["impressions"]
        interactions = entry["likes"] + entry["comments"] + entry["shares"] + entry["clicks"]
        entry["engagement_rate"] = round(interactions / reach, 4) if reach else None
    totals = {
        status.value: sum(1 for p in posts if p.status == status.value) for status in PostStatus
    }
    return {
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
        "platforms": sorted(per_platform.values(), key=lambda e: e["platform"]),
        "totals": {"posts": len(posts), **totals},
    }
