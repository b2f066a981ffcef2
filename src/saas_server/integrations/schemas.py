from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any

import httpx
from limits import parse
from pydantic import AfterValidator, Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime
from saas_server.integrations.models import AuthType, HealthStatus, ProviderKind

# A slug: it is the last segment of the provider's intake URL.
NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$"


def _http_url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"Not a usable URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("An http(s) URL with a host is needed.")
    return value


def _cidrs(values: list[str]) -> list[str]:
    """Each entry an address or a network; kept in its normal form (``10.0.0.0/8``)."""
    normal: list[str] = []
    for value in values:
        try:
            normal.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR network.") from None
    return normal


def _rate_limit(value: str) -> str:
    try:
        parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate limit such as '600/minute'.") from None
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Cidrs = Annotated[list[Annotated[str, Field(max_length=50)]], AfterValidator(_cidrs)]
RateLimitSpec = Annotated[str, AfterValidator(_rate_limit)]


class ProviderCreate(RequestSchema):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    kind: ProviderKind = ProviderKind.GENERIC
    webhook_url: HttpUrl | None = Field(default=None, max_length=2000)
    api_base_url: HttpUrl | None = Field(default=None, max_length=2000)
    auth_type: AuthType = AuthType.HMAC
    # Signs the provider's webhooks; stored encrypted, never shown again.
    secret_key: str = Field(min_length=16, max_length=500)
    allowed_ips: Cidrs = Field(default_factory=list, max_length=100)
    is_active: bool = True
    rate_limit: RateLimitSpec | None = Field(default=None, max_length=40)


class ProviderUpdate(RequestSchema):
    name: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=63)
    kind: ProviderKind | None = None
    webhook_url: HttpUrl | None = Field(default=None, max_length=2000)
    api_base_url: HttpUrl | None = Field(default=None, max_length=2000)
    auth_type: AuthType | None = None
    secret_key: str | None = Field(default=None, min_length=16, max_length=500)
    allowed_ips: Cidrs | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    rate_limit: RateLimitSpec | None = Field(default=None, max_length=40)


class ProviderRead(Schema):
    id: uuid.UUID
    name: str
    kind: ProviderKind
    webhook_url: str | None
    api_base_url: str | None
    auth_type: AuthType
    allowed_ips: list[str]
    is_active: bool
    rate_limit: str
    # The intake path of this provider.
    intake_path: str
    health_status: HealthStatus
    created_at: UTCDateTime
    updated_at: UTCDateTime


class EventRead(Schema):
    """Seed 002's fields (``event_type``, ``event_id``, ``provider``, ``status``,
    ``created_at``) and the processing state."""

    id: uuid.UUID
    provider: str
    event_type: str
    event_id: str
    status: str
    attempts: int
    tenant_id: uuid.UUID | None
    next_attempt_at: UTCDateTime | None
    processed_at: UTCDateTime | None
    last_error: str | None
    created_at: UTCDateTime


class AttemptRead(Schema):
    number: int
    started_at: UTCDateTime
    finished_at: UTCDateTime
    succeeded: bool
    error: str | None
    manual: bool


class EventDetail(EventRead):
    payload: dict[str, Any]
    result: dict[str, Any] | None
    attempt_log: list[AttemptRead]


class Acknowledgement(Schema):
    """What the intake answers: 202 accepted (processing follows) or 200 duplicate."""

    status: str
    id: uuid.UUID | None = None
    event_id: str


class ProviderHealth(Schema):
    status: HealthStatus
    response_time: int | None  # milliseconds
    last_check: UTCDateTime | None
    error: str | None = None


class IntegrationsHealth(Schema):
    status: str
    providers: dict[str, ProviderHealth]
