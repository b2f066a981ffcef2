"""Standard Webhooks signatures (the ``standardwebhooks`` library signs; nothing hand-rolled)."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime
from math import floor

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def signers(secrets: Sequence[str]) -> list[Webhook]:
    """One signer per secret (decoding a secret once, for the many messages of a batch)."""
    return [Webhook(secret) for secret in secrets]


def signed_headers(
    message_id: str, body: bytes, secrets: Sequence[str], at: datetime
) -> dict[str, str]:
    """The three headers of the spec; with several secrets (a rotation under way), one
    ``v1,`` signature per secret, space-separated, so receivers on either secret verify."""
    return signed_headers_by(message_id, body, signers(secrets), at)


def signed_headers_by(
    message_id: str, body: bytes, by: Sequence[Webhook], at: datetime
) -> dict[str, str]:
    """:func:`signed_headers` with the signers made already."""
    signatures = " ".join(signer.sign(message_id, at, body) for signer in by)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "saas-platform-webhooks/1",
    }
