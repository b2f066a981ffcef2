"""Download links signed by the platform, for storage that has no links of its own (the
local disk): the backup's id and an expiry, under an HMAC of a key derived from the
secret key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from saas_server.backups.models import Backup
from saas_server.core import clock
from saas_server.core.crypto import derive_key
from saas_server.core.errors import Unauthorized
from saas_server.core.runtime import Runtime


def download_filename(backup: Backup) -> str:
    stamp = backup.created_at.strftime("%Y-%m-%d_%H-%M-%S")
    return f"{backup.database_name}_{stamp}.zip"


def _download_key(runtime: Runtime) -> bytes:
    return derive_key(runtime.secret_key, "backup-download")


def sign_download(runtime: Runtime, backup_id: uuid.UUID, expires_at: datetime) -> str:
    payload = json.dumps({"b": str(backup_id), "e": int(expires_at.timestamp())}).encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=")
    signature = hmac.new(_download_key(runtime), body, hashlib.sha256).digest()
    return (body + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def verify_download(runtime: Runtime, token: str) -> uuid.UUID:
    """The backup a download link names; 401 when forged or expired."""
    try:
        body, _, signature = token.encode().partition(b".")
        expected = hmac.new(_download_key(runtime), body, hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(signature + b"=" * (-len(signature) % 4))
        if not hmac.compare_digest(expected, given):
            raise ValueError("bad signature")
        payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        backup_id = uuid.UUID(payload["b"])
        expires = int(payload["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("This download link is invalid") from exc
    if expires <= clock.now().timestamp():
        raise Unauthorized("This download link has expired")
    return backup_id
