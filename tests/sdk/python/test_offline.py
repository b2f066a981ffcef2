"""The SDK's parts that need no running platform: the generated sync client is current, the
models agree with the committed OpenAPI document, errors map from envelopes, the SSE parser
follows the standard, and the webhook verifier accepts what the platform's own signing code
signs (and nothing else)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import saas_platform
from pydantic import BaseModel
from saas_platform import errors, models
from saas_platform._shared import SSEParser, query_of
from saas_platform.webhooks import Webhook

from saas_server.webhooks.signing import new_secret, signed_headers

SDK = Path(__file__).resolve().parents[3] / "sdk"

# SDK model -> the schema of the answer it parses in sdk/openapi.json.
MODEL_SCHEMAS: dict[type[BaseModel], str] = {
    models.User: "UserRead",
    models.Tenant: "TenantRead",
    models.Instance: "InstanceRead",
    models.Member: "MemberRead",
    models.Invitation: "InvitationRead",
    models.Backup: "BackupRead",
    models.Restore: "RestoreRead",
    models.ApiKey: "ApiKeyRead",
    models.ApiKeyCreated: "ApiKeyCreated",
    models.WebhookEndpoint: "EndpointRead",
    models.WebhookEndpointCreated: "EndpointWithSecret",
    models.WebhookDelivery: "DeliveryRead",
    models.Plan: "PlanRead",
    models.Subscription: "SubscriptionRead",
    models.Invoice: "InvoiceRead",
}


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    done = subprocess.run(
        [sys.executable, str(SDK / "python" / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("model", list(MODEL_SCHEMAS), ids=lambda m: m.__name__)
def test_models_name_only_fields_the_api_sends(model: type[BaseModel]) -> None:
    schema = json.loads((SDK / "openapi.json").read_text())["components"]["schemas"][
        MODEL_SCHEMAS[model]
    ]
    properties = set(schema["properties"])
    required = set(schema.get("required", []))
    for name, field in model.model_fields.items():
        assert name in properties, f"{model.__name__}.{name} is not in {MODEL_SCHEMAS[model]}"
        if field.is_required():
            assert name in required, f"{model.__name__}.{name} may be absent from the API"


def envelope(status: int, code: str, **extra: Any) -> httpx.Response:
    body = {"error": {"code": code, "message": "m", "details": {"f": ["bad"]}, **extra}}
    return httpx.Response(status, json=body, headers={"X-Request-ID": "req-1"})


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "TENANT_NOT_FOUND", errors.TenantNotFound),
        (404, "SOMETHING_NEW_NOT_FOUND", errors.NotFound),
        (402, "BILLING_ERROR", errors.BillingError),
        (422, "VALIDATION_ERROR", errors.ValidationError),
        (401, "UNAUTHORIZED", errors.AuthenticationError),
        (403, "FORBIDDEN", errors.PermissionDenied),
        (429, "RATE_LIMIT_EXCEEDED", errors.RateLimitExceeded),
        (400, "BACKUP_QUOTA_EXCEEDED", errors.BackupQuotaExceeded),
        (400, "A_NEW_CODE", errors.BadRequest),
        (500, "PROVISIONING_FAILED", errors.ProvisioningFailed),
        (504, "GATEWAY", errors.InternalServerError),
    ],
)
def test_errors_map_from_the_envelope(status: int, code: str, expected: type) -> None:
    error = errors.error_from_response(envelope(status, code))
    assert type(error) is expected
    assert (error.status_code, error.code, error.request_id) == (status, code, "req-1")
    assert error.details == {"f": ["bad"]}


def test_every_exception_is_exported() -> None:
    for name in errors.__all__:
        if isinstance(getattr(errors, name), type):
            assert getattr(saas_platform, name) is getattr(errors, name)


def test_the_sse_parser_follows_the_standard() -> None:
    parser = SSEParser()
    lines = [": ready", "id: 7", "event: tenant.ready", 'data: {"a":', "data: 1}", ""]
    out = [m for m in map(parser.feed, lines) if m is not None]
    assert out[0].comment == "ready"
    assert (out[1].id, out[1].event, out[1].data) == ("7", "tenant.ready", '{"a":\n1}')
    # The last id carries over to a message that names none.
    assert parser.feed("data: x") is None
    message = parser.feed("")
    assert message is not None and message.id == "7" and message.event == "message"


def test_next_links_are_followed_on_the_clients_own_url() -> None:
    assert query_of("https://public.example/api/v1/tenants?page=3&page_size=2") == {
        "page": "3",
        "page_size": "2",
    }
    assert query_of(None) is None


def test_the_verifier_takes_what_the_platform_signs_and_nothing_else() -> None:
    old, new = new_secret(), new_secret()
    body = json.dumps({"type": "tenant.ready", "timestamp": "2026-12-05T08:00:00Z", "data": {}})
    at = datetime.now(UTC)
    # During a rotation the platform signs with both secrets; either verifies.
    headers = signed_headers("msg_1", body.encode(), [old, new], at)
    for secret in (old, new, [new_secret(), new]):
        event = Webhook(secret).verify(body.encode(), headers)
        assert event.type == "tenant.ready"

    with pytest.raises(errors.WebhookVerificationError, match="no signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(errors.WebhookVerificationError, match="no signature"):
        Webhook(old).verify(body.replace("ready", "deleted"), headers)
    with pytest.raises(errors.WebhookVerificationError, match="too old"):
        Webhook(old).verify(body, headers, now=time.time() + 600)
    with pytest.raises(errors.WebhookVerificationError, match="missing"):
        Webhook(old).verify(body, {k: v for k, v in headers.items() if k != "webhook-id"})
    assert Webhook(old).sign("msg_1", int(at.timestamp()), body) in headers["webhook-signature"]


def test_the_sdk_stands_alone() -> None:
    """Nothing of the server is imported: the SDK works where only it is installed."""
    probe = (
        "import sys, saas_platform, saas_platform.webhooks; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'saas_server', 'fastapi', "
        "'sqlalchemy', 'standardwebhooks'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    sources = (SDK / "python" / "src").rglob("*.py")
    assert not [p for p in sources if "saas_server" in p.read_text()]
