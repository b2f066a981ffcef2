"""Typed models of the API's main resources.

Hand-written rather than generated: they name the fields an integrator relies on, and keep
every other field the platform sends (``extra="allow"``: ``tenant.model_extra``, or
``tenant.model_dump()``), so a newer platform adding fields never breaks an older SDK. Ids are
plain strings, to pass straight back to the client's methods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "Backup",
    "Event",
    "Instance",
    "Invitation",
    "Invoice",
    "Member",
    "Model",
    "Page",
    "Plan",
    "Restore",
    "Subscription",
    "Tenant",
    "TokenPair",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEndpointCreated",
]


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def __getitem__(self, name: str) -> Any:
        """``tenant["status"]`` as well as ``tenant.status``, extra fields included."""
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


class User(Model):
    id: str
    email: str
    full_name: str = ""
    first_name: str = ""
    last_name: str = ""
    role: str = "user"
    is_active: bool = True
    email_verified: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class TokenPair(Model):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: User | None = None


class Instance(Model):
    id: str
    tenant_id: str
    kind: str = "production"
    status: str
    status_reason: str | None = None
    url: str | None = None
    database: str | None = None
    odoo_version: str | None = None
    admin_login: str | None = None
    # Shown to the tenant's owners and admins only.
    admin_password: str | None = None
    step: str | None = None
    error: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    ready_at: datetime | None = None


class Tenant(Model):
    id: str
    name: str
    subdomain: str
    domain: str | None = None
    tier: str | None = None
    status: str
    is_active: bool = True
    owner_id: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    member_count: int | None = None
    instance: Instance | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    grace_ends_at: datetime | None = None


class Member(Model):
    id: str
    user_id: str
    email: str
    full_name: str = ""
    role: str
    is_active: bool = True
    joined_at: datetime | None = None


class Invitation(Model):
    id: str
    tenant_id: str
    email: str
    role: str
    status: str = "invited"
    expires_at: datetime | None = None
    created_at: datetime | None = None


class Backup(Model):
    id: str
    tenant_id: str
    instance_id: str | None = None
    type: str
    status: str
    progress: int = 0
    size_bytes: int | None = None
    checksum: str | None = None
    checksum_algorithm: str = "sha256"
    odoo_version: str | None = None
    reason: str | None = None
    error: dict[str, Any] | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    # A signed link, for the tenant's owners and admins, once the backup is completed.
    download_url: str | None = None
    download_expires_at: datetime | None = None


class Restore(Model):
    id: str
    tenant_id: str
    instance_id: str | None = None
    backup_id: str | None = None
    pre_restore_backup_id: str | None = None
    status: str
    step: str | None = None
    progress: int = 0
    as_copy: bool = False
    error: dict[str, Any] | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None


class ApiKey(Model):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    tenant_id: str | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None


class ApiKeyCreated(ApiKey):
    # The key itself: the platform shows it this once.
    key: str


class WebhookEndpoint(Model):
    id: str
    url: str
    description: str = ""
    events: list[str]
    tenant_id: str | None = None
    status: str
    created_at: datetime | None = None


class WebhookEndpointCreated(WebhookEndpoint):
    # The signing secret (``whsec_...``): shown this once; give it to ``Webhook(secret)``.
    secret: str


class WebhookDelivery(Model):
    id: str
    endpoint_id: str
    event_id: str | None = None
    message_id: str
    event_type: str
    status: str
    attempt_count: int = 0
    last_status_code: int | None = None
    created_at: datetime | None = None


class Plan(Model):
    id: str
    code: str
    name: str
    tier: str | None = None
    currency: str | None = None
    prices: list[dict[str, Any]] = Field(default_factory=list)
    max_users: int | None = None
    trial_days: int = 0
    is_active: bool = True


class Subscription(Model):
    id: str
    tenant_id: str
    plan: str
    status: str
    is_active: bool = True
    billing_cycle: str | None = None
    user_count: int | None = None
    max_users: int | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False


class Invoice(Model):
    id: str
    tenant_id: str
    subscription_id: str | None = None
    number: str | None = None
    status: str
    currency: str
    total_cents: int
    amount_due_cents: int = 0
    payment_status: str | None = None
    pdf_url: str | None = None
    created_at: datetime | None = None


class Event(Model):
    """One message of the event stream, or the body of one webhook delivery: ``type``,
    ``timestamp``, ``data``; ``id`` is the stream's sequence number (for ``Last-Event-ID``)."""

    id: str | None = None
    type: str
    timestamp: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)


ItemT = TypeVar("ItemT", bound=Model)


class Page(Model, Generic[ItemT]):
    """One page of a list: ``count`` over all pages, ``results`` on this one."""

    count: int
    next: str | None = None
    previous: str | None = None
    results: list[ItemT]

    @property
    def has_next(self) -> bool:
        return self.next is not None
