"""Archives in S3-compatible object storage (AWS S3, MinIO, Ceph, Garage, moto...).

boto3 is synchronous: every call runs in a thread. Uploads are multipart, one part in
memory at a time, so memory stays flat whatever the archive size; the object appears only
when the upload completes, and any failure aborts the upload, leaving neither an object nor
stored parts behind.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from saas_server.backups.storage import (
    CHUNK_SIZE,
    ArchiveMissing,
    ProgressCallback,
    StoredArchive,
)
from saas_server.core.errors import ConfigurationError
from saas_server.core.settings import Settings

PART_SIZE = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB (but the last)


class S3Storage:
    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        sse: str = "",
        kms_key_id: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        self._sse: dict[str, str] = {}
        if sse:
            self._sse["ServerSideEncryption"] = sse
            if sse == "aws:kms" and kms_key_id:
                self._sse["SSEKMSKeyId"] = kms_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if not settings.backup_s3_bucket:
            raise ConfigurationError(
                "SAAS_BACKUP_S3_BUCKET is required with SAAS_BACKUP_STORAGE=s3"
            )
        secret = settings.backup_s3_secret_access_key
        return cls(
            bucket=settings.backup_s3_bucket,
            prefix=settings.backup_s3_prefix,
            endpoint_url=settings.backup_s3_endpoint_url,
            region=settings.backup_s3_region,
            access_key_id=settings.backup_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            sse=settings.backup_s3_sse,
            kms_key_id=settings.backup_s3_kms_key_id,
        )

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"Invalid storage key {key!r}")
        return self.prefix + key

    async def ensure_bucket(self) -> None:
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        except ClientError:
            region = self.client.meta.region_name
            # us-east-1 is the one region S3 wants no location constraint for.
            extra = (
                {"CreateBucketConfiguration": {"LocationConstraint": region}}
                if region and region != "us-east-1"
                else {}
            )
            await asyncio.to_thread(self.client.create_bucket, Bucket=self.bucket, **extra)

    async def save(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> StoredArchive:
        name = self._key(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def send_part(data: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                created = await asyncio.to_thread(
                    self.client.create_multipart_upload, Bucket=self.bucket, Key=name, **self._sse
                )
                upload_id = created["UploadId"]
            number = len(parts) + 1
            answer = await asyncio.to_thread(
                self.client.upload_part,
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= PART_SIZE:  # equal parts: R2 and some others insist
                    await send_part(bytes(buffer[:PART_SIZE]))
                    del buffer[:PART_SIZE]
                if on_progress is not None:
                    await on_progress(size)
            if upload_id is None:  # small: one request
                await asyncio.to_thread(
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=name,
                    Body=bytes(buffer),
                    **self._sse,
                )
            else:
                if buffer:
                    await send_part(bytes(buffer))
                await asyncio.to_thread(
                    self.client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(
                    asyncio.to_thread(
                        self.client.abort_multipart_upload,
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                    )
                )
            raise
        return StoredArchive(key=key, size=size, sha256=digest.hexdigest())

    async def read(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        try:
            answer = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=self._key(key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArchiveMissing(key) from None
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def keys(self, prefix: str = "") -> list[str]:
        def listing() -> list[str]:
            found: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            return sorted(found)

        return await asyncio.to_thread(listing)

    async def download_url(self, key: str, *, filename: str, expires_in: int) -> str | None:
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(key),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=expires_in,
        )
        return url

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)
