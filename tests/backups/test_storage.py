"""Both storage backends: whole archives or nothing, checksums, links, listing."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from saas_server.backups.s3_storage import PART_SIZE, S3Storage
from saas_server.backups.storage import ArchiveMissing, BackupStorage, LocalStorage


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BackupStorage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "backups")
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3Storage(
        bucket=f"b-{uuid.uuid4().hex[:10]}",
        prefix="platform/backups",
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        sse="AES256",
    )
    await s3.ensure_bucket()
    yield s3
    await s3.close()


async def stream(data: bytes, fail_at: int | None = None) -> AsyncIterator[bytes]:
    offset = 0
    sizes = [1, 4096, 777_777, 3 * 1024 * 1024]
    index = 0
    while offset < len(data):
        if fail_at is not None and offset >= fail_at:
            raise RuntimeError("the source broke")
        size = sizes[index % len(sizes)]
        index += 1
        yield data[offset : offset + size]
        offset += size
        await asyncio.sleep(0)


def no_leftovers(storage: BackupStorage) -> None:
    if isinstance(storage, LocalStorage):
        leftovers = [p for p in storage.root.rglob("*") if p.is_file()]
        assert leftovers == []
    else:
        assert isinstance(storage, S3Storage)
        uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket)
        assert uploads.get("Uploads", []) == []


async def test_roundtrip_with_size_and_checksum(storage: BackupStorage) -> None:
    data = os.urandom(PART_SIZE * 2 + 12345)
    progress: list[int] = []

    async def on_progress(written: int) -> None:
        progress.append(written)

    stored = await storage.save("tenants/t1/a.zip", stream(data), on_progress=on_progress)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert progress[-1] == len(data)
    assert await storage.exists("tenants/t1/a.zip")
    assert b"".join([c async for c in storage.read("tenants/t1/a.zip")]) == data
    assert await storage.keys("tenants/") == ["tenants/t1/a.zip"]
    # Small archives too.
    small = await storage.save("tenants/t1/b.zip", stream(b"tiny"))
    assert small.size == 4
    assert b"".join([c async for c in storage.read("tenants/t1/b.zip")]) == b"tiny"


async def test_a_broken_stream_leaves_nothing(storage: BackupStorage) -> None:
    data = os.urandom(PART_SIZE * 2 + 1)
    with pytest.raises(RuntimeError):
        await storage.save("tenants/t1/a.zip", stream(data, fail_at=PART_SIZE + 5))
    assert not await storage.exists("tenants/t1/a.zip")
    assert await storage.keys() == []
    no_leftovers(storage)


async def test_a_cancelled_save_leaves_nothing(storage: BackupStorage) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield os.urandom(1024 * 1024)
            started.set()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(storage.save("tenants/t1/a.zip", endless()))
    await started.wait()
    await asyncio.sleep(0.5)  # some parts sent
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await storage.keys() == []
    no_leftovers(storage)


async def test_missing_delete_and_listing(storage: BackupStorage) -> None:
    with pytest.raises(ArchiveMissing):
        [c async for c in storage.read("tenants/none.zip")]
    await storage.delete("tenants/none.zip")  # idempotent
    await storage.save("tenants/a/1.zip", stream(b"1"))
    await storage.save("tenants/b/2.zip", stream(b"2"))
    await storage.save("other/3.zip", stream(b"3"))
    assert await storage.keys("tenants/") == ["tenants/a/1.zip", "tenants/b/2.zip"]
    await storage.delete("tenants/a/1.zip")
    assert await storage.keys("tenants/") == ["tenants/b/2.zip"]
    with pytest.raises(ValueError):
        await storage.save("../escape.zip", stream(b"x"))


async def test_s3_links_and_encryption(s3_endpoint: str) -> None:
    s3 = S3Storage(
        bucket=f"b-{uuid.uuid4().hex[:10]}",
        endpoint_url=s3_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        sse="AES256",
    )
    await s3.ensure_bucket()
    await s3.save("tenants/t/x.zip", stream(b"archive bytes"))
    head = s3.client.head_object(Bucket=s3.bucket, Key="tenants/t/x.zip")
    assert head["ServerSideEncryption"] == "AES256"
    url = await s3.download_url("tenants/t/x.zip", filename="acme.zip", expires_in=60)
    assert url is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"archive bytes"
    assert 'filename="acme.zip"' in response.headers["content-disposition"]
    await s3.close()


async def test_local_links_are_served_by_the_platform(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    assert await local.download_url("k.zip", filename="x.zip", expires_in=60) is None


async def test_local_files_and_folders_are_private(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path / "data" / "backups")
    await local.save("tenants/t1/a.zip", stream(b"secret"))
    for path in (
        tmp_path / "data",
        tmp_path / "data" / "backups",
        tmp_path / "data" / "backups" / "tenants",
        tmp_path / "data" / "backups" / "tenants" / "t1",
    ):
        assert path.stat().st_mode & 0o777 == 0o700, path
    archive = tmp_path / "data" / "backups" / "tenants" / "t1" / "a.zip"
    assert archive.stat().st_mode & 0o777 == 0o600
