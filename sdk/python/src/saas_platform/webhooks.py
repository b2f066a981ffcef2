"""Verify the webhooks the platform sends (Standard Webhooks, https://www.standardwebhooks.com).

    from saas_platform import Webhook

    webhook = Webhook("whsec_...")                 # the endpoint's secret, shown at creation
    event = webhook.verify(request_body, request_headers)   # raises WebhookVerificationError
    if event.type == "tenant.ready": ...

The platform signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 under the
base64-decoded secret and sends ``v1,<base64 signature>`` in ``webhook-signature`` (several,
space-separated, while a secret rotation is under way). Verify the raw body exactly as it
arrived, before any JSON parsing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence

from saas_platform.errors import WebhookVerificationError
from saas_platform.models import Event

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "Webhook"]

SECRET_PREFIX = "whsec_"
# A signature older or newer than this is refused (replays; clocks that disagree).
DEFAULT_TOLERANCE_SECONDS = 5 * 60


def _key_of(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


class Webhook:
    """A verifier for one endpoint. Give several secrets (old and new) to accept either
    during a rotation."""

    def __init__(
        self, secret: str | Sequence[str], *, tolerance: float = DEFAULT_TOLERANCE_SECONDS
    ) -> None:
        secrets = [secret] if isinstance(secret, str) else list(secret)
        if not secrets:
            raise ValueError("at least one secret is needed")
        self._keys = [_key_of(s) for s in secrets]
        self.tolerance = tolerance

    def sign(self, message_id: str, timestamp: int, body: bytes | str) -> str:
        """``v1,<signature>`` with the first secret (what the platform sends; for tests)."""
        return "v1," + self._signature(self._keys[0], message_id, str(timestamp), _bytes(body))

    def verify(
        self, body: bytes | str, headers: Mapping[str, str], *, now: float | None = None
    ) -> Event:
        """The webhook's event once its signature and timestamp verify; else raises
        WebhookVerificationError."""
        lowered = {key.lower(): value for key, value in headers.items()}
        message_id = lowered.get("webhook-id")
        timestamp = lowered.get("webhook-timestamp")
        signatures = lowered.get("webhook-signature")
        if not (message_id and timestamp and signatures):
            raise WebhookVerificationError(
                "missing webhook-id, webhook-timestamp or webhook-signature header"
            )
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise WebhookVerificationError("webhook-timestamp is not a number") from None
        current = time.time() if now is None else now
        if abs(current - sent_at) > self.tolerance:
            raise WebhookVerificationError("webhook-timestamp is too old or too new")
        payload = _bytes(body)
        expected = [self._signature(key, message_id, timestamp, payload) for key in self._keys]
        for candidate in signatures.split():
            version, _, signature = candidate.partition(",")
            if version != "v1":
                continue
            if any(hmac.compare_digest(signature, wanted) for wanted in expected):
                try:
                    return Event.model_validate(json.loads(payload))
                except ValueError as exc:
                    raise WebhookVerificationError("the body is not a platform event") from exc
        raise WebhookVerificationError("no signature matches")

    @staticmethod
    def _signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
        signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
        return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body
