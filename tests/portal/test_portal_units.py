"""The portal's pieces on their own: type sniffing, conditional answers, the Odoo read cache."""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from datetime import UTC, datetime

import pytest
from starlette.requests import Request

from saas_server.portal.access import conditional
from saas_server.portal.cache import MemoryCache, RedisCache
from saas_server.portal.files import sniff


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (b"%PDF-1.7\n...", "anything.bin", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "photo.pdf", "image/png"),
        (
            _docx(),
            "contract.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (b"name,amount\nacme,12\n", "figures.csv", "text/csv"),
        (b"plain words", "notes.pdf", "text/plain"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "invoice.pdf", "application/x-msdownload"),
        (b"\xff\xfe\x00\x01\x02garbage\x00", "x.txt", None),
    ],
)
def test_the_type_is_the_contents_not_the_names(
    content: bytes, name: str, expected: str | None
) -> None:
    assert sniff(content, name) == expected


def _request(headers: dict[str, str]) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )


def test_conditional_answers_304_to_a_current_etag_or_date() -> None:
    modified = datetime(2026, 12, 1, 10, 0, 0, 500, tzinfo=UTC)
    first = conditional(_request({}), {"a": 1}, last_modified=modified)
    assert first.status_code == 200
    assert first.headers["last-modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"
    assert first.headers["cache-control"] == "private, no-cache"
    etag = first.headers["etag"]
    assert conditional(_request({"If-None-Match": etag}), {"a": 1}).status_code == 304
    assert conditional(_request({"If-None-Match": f'W/{etag}, "x"'}), {"a": 1}).status_code == 304
    # Another body, another tag.
    assert conditional(_request({"If-None-Match": etag}), {"a": 2}).status_code == 200
    since = {"If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT"}
    assert conditional(_request(since), {"a": 2}, last_modified=modified).status_code == 304
    earlier = {"If-Modified-Since": "Tue, 01 Dec 2026 09:59:59 GMT"}
    assert conditional(_request(earlier), {"a": 2}, last_modified=modified).status_code == 200
    public = conditional(_request({}), {"a": 1}, public=True)
    assert public.headers["cache-control"] == "public, max-age=3600"


async def _exercise(cache: MemoryCache | RedisCache) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    loads: list[str] = []

    async def load() -> list[int]:
        loads.append("x")
        return [len(loads)]

    assert await cache.get_or_load(tenant, "k", load) == [1]
    assert await cache.get_or_load(tenant, "k", load) == [1]
    assert await cache.get_or_load(other, "k", load) == [2]
    await cache.drop_tenant(tenant)
    assert await cache.get_or_load(tenant, "k", load) == [3]
    # Only that tenant's entries went.
    assert await cache.get_or_load(other, "k", load) == [2]


async def test_memory_cache_keeps_reads_until_dropped() -> None:
    await _exercise(MemoryCache())


async def test_redis_cache_keeps_reads_until_dropped() -> None:
    url = os.environ.get("SAAS_TEST_PORTAL_REDIS_URL", "redis://127.0.0.1:6379/10")
    cache = RedisCache(url)
    try:
        await cache._redis.ping()
    except Exception:
        pytest.skip("no Redis at " + url)
    await _exercise(cache)
    await cache._redis.aclose()


def test_the_notification_type_filter_names_every_type() -> None:
    from typing import get_args

    from saas_server.portal.notifications import TYPES
    from saas_server.portal.router import NotificationType

    assert set(get_args(NotificationType)) == set(TYPES)
