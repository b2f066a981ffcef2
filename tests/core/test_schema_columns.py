"""Every request schema agrees with the columns its values land in (issue 22 item 5).

A value the schema accepts but the column cannot hold is a 500 (``StringDataRightTruncation``)
instead of a 422. The walk below finds every text field of every request body and asks where
it goes; a new field without an entry fails the walk, so the question is answered once per
field, when it is added. Names are also combined (``full_name`` = first + last, and split
the other way), so they are checked through the API at their boundaries.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import Column, String

from saas_server.admin.models import MaintenanceMode
from saas_server.app import create_app
from saas_server.auth.models import ApiKey
from saas_server.backups.models import Backup
from saas_server.billing.models import BillingAccount, Plan
from saas_server.core.schemas import RequestSchema
from saas_server.core.settings import Settings
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import InstanceTransition
from saas_server.integrations.models import IntegrationProvider
from saas_server.marketing.models import ScheduledPost, SeoAudit
from saas_server.moves.models import Move
from saas_server.portal.models import PortalSettings
from saas_server.security.models import BlockedIp
from saas_server.tenants import rules
from saas_server.tenants.models import Invitation, Tenant
from saas_server.users.models import User
from saas_server.webhooks.models import WebhookEndpoint
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope

# Where a text field's value goes when it is not a column of its own.
NOT_STORED = "not stored as sent (hashed, encrypted into a Text column, or only compared)"
JSON = "kept inside a JSONB document (no length of its own)"


def col(attribute: Any) -> Column[Any]:
    return attribute.property.columns[0]  # type: ignore[no-any-return]


# (schema, field) -> the column it is stored in, or why it has none.
DESTINATIONS: dict[tuple[str, str], Any] = {
    ("MaintenanceUpdate", "message"): col(MaintenanceMode.message),
    # portal
    ("SettingsUpdate", "language"): col(PortalSettings.language),
    # billing
    ("PlanCreate", "code"): col(Plan.code),
    ("PlanCreate", "name"): col(Plan.name),
    ("PlanCreate", "description"): col(Plan.description),
    ("PlanCreate", "expiration_reason"): col(Plan.expiration_reason),
    ("PlanCreate", "currency"): col(Plan.currency),
    ("PlanUpdate", "name"): col(Plan.name),
    ("PlanUpdate", "description"): col(Plan.description),
    ("PlanUpdate", "expiration_reason"): col(Plan.expiration_reason),
    ("PlanUpdate", "currency"): col(Plan.currency),
    ("SubscriptionCreate", "plan"): NOT_STORED,
    ("SubscriptionReplace", "plan"): NOT_STORED,
    ("SubscriptionUpdate", "plan"): NOT_STORED,
    # A preview changes nothing: the plan is only looked up.
    ("SubscriptionPreviewRequest", "plan"): NOT_STORED,
    ("BillingAccountUpdate", "billing_address"): col(Tenant.billing_address),
    ("BillingAccountUpdate", "country"): col(BillingAccount.country),
    ("BillingAccountUpdate", "tax_id"): col(BillingAccount.tax_id),
    ("PaymentMethodCreate", "payment_method"): NOT_STORED,
    ("RegisterRequest", "password"): NOT_STORED,
    ("RegisterRequest", "password_confirm"): NOT_STORED,
    ("RegisterRequest", "full_name"): col(User.full_name),
    ("RegisterRequest", "first_name"): col(User.first_name),
    ("RegisterRequest", "last_name"): col(User.last_name),
    ("RegisterRequest", "tenant_name"): col(Tenant.name),
    ("RegisterRequest", "subdomain"): "subdomain",
    ("LoginRequest", "tenant"): NOT_STORED,
    ("LoginRequest", "email"): NOT_STORED,
    ("LoginRequest", "username"): NOT_STORED,
    ("LoginRequest", "password"): NOT_STORED,
    ("RefreshRequest", "refresh_token"): NOT_STORED,
    ("LogoutRequest", "refresh_token"): NOT_STORED,
    ("TokenRequest", "token"): NOT_STORED,
    ("PasswordResetConfirm", "token"): NOT_STORED,
    ("PasswordResetConfirm", "new_password"): NOT_STORED,
    ("PasswordChange", "current_password"): NOT_STORED,
    ("PasswordChange", "new_password"): NOT_STORED,
    ("ProfileUpdate", "full_name"): col(User.full_name),
    ("ProfileUpdate", "first_name"): col(User.first_name),
    ("ProfileUpdate", "last_name"): col(User.last_name),
    ("UserCreate", "password"): NOT_STORED,
    ("UserCreate", "full_name"): col(User.full_name),
    ("UserCreate", "first_name"): col(User.first_name),
    ("UserCreate", "last_name"): col(User.last_name),
    ("UserUpdate", "full_name"): col(User.full_name),
    ("UserUpdate", "first_name"): col(User.first_name),
    ("UserUpdate", "last_name"): col(User.last_name),
    ("TenantSettings", "timezone"): JSON,
    ("TenantSettings", "language"): JSON,
    ("TenantCreate", "name"): col(Tenant.name),
    ("TenantCreate", "subdomain"): "subdomain",
    ("TenantCreate", "billing_address"): col(Tenant.billing_address),
    ("TenantCreate", "admin_password"): NOT_STORED,
    ("TenantUpdate", "name"): col(Tenant.name),
    ("TenantUpdate", "subdomain"): "subdomain",
    ("TenantUpdate", "billing_address"): col(Tenant.billing_address),
    ("InvitationAccept", "token"): NOT_STORED,
    ("BackupCreate", "reason"): col(Backup.reason),
    ("NewTenantTarget", "name"): col(Tenant.name),
    ("NewTenantTarget", "subdomain"): col(Tenant.subdomain),
    ("TenantAction", "reason"): JSON,
    ("HostCreate", "name"): col(OdooHost.name),
    ("HostCreate", "url"): col(OdooHost.url),
    ("HostCreate", "master_password"): NOT_STORED,
    ("HostCreate", "postgres_url"): NOT_STORED,
    ("HostUpdate", "name"): col(OdooHost.name),
    ("HostUpdate", "url"): col(OdooHost.url),
    ("HostUpdate", "master_password"): NOT_STORED,
    ("HostUpdate", "postgres_url"): NOT_STORED,
    ("HostCreate", "log_path"): col(OdooHost.log_path),
    ("HostUpdate", "log_path"): col(OdooHost.log_path),
    ("InstanceAction", "reason"): col(InstanceTransition.reason),
    ("ApiKeyCreate", "name"): col(ApiKey.name),
    ("MoveActionRequest", "reason"): col(Move.reason),
    # webhooks
    ("EndpointCreate", "url"): col(WebhookEndpoint.url),
    ("EndpointCreate", "description"): col(WebhookEndpoint.description),
    ("EndpointUpdate", "url"): col(WebhookEndpoint.url),
    ("EndpointUpdate", "description"): col(WebhookEndpoint.description),
    # security: a threat action's note goes to the audit trail, and is a block's reason.
    ("ThreatActionRequest", "note"): col(BlockedIp.reason),
    ("BlockedIpCreate", "ip"): col(BlockedIp.network),
    ("BlockedIpCreate", "reason"): col(BlockedIp.reason),
    ("ScanCreate", "tenant_id"): NOT_STORED,
    # marketing
    ("SeoAuditCreate", "url"): col(SeoAudit.url),
    ("SeoAuditCreate", "tenant_id"): NOT_STORED,
    ("MediaItem", "url"): JSON,
    ("MediaItem", "mime_type"): JSON,
    ("MediaItem", "file_id"): JSON,
    ("ScheduledPostCreate", "platform"): col(ScheduledPost.platform),
    ("ScheduledPostCreate", "content"): col(ScheduledPost.content),
    ("ScheduledPostCreate", "provider"): col(ScheduledPost.provider),
    ("ScheduledPostCreate", "tenant_id"): NOT_STORED,
    ("ScheduledPostUpdate", "content"): col(ScheduledPost.content),
    ("SocialProviderUpdate", "url"): JSON,
    ("SocialProviderUpdate", "tenant_id"): NOT_STORED,
    ("EngagementReport", "post_id"): NOT_STORED,
    # integrations
    **{
        (schema, field): col(getattr(IntegrationProvider, field))
        for schema in ("ProviderCreate", "ProviderUpdate")
        for field in ("name", "webhook_url", "api_base_url", "rate_limit")
    },
    ("ProviderCreate", "secret_key"): NOT_STORED,
    ("ProviderUpdate", "secret_key"): NOT_STORED,
}

# Emails are at most 254 characters once validated (RFC 5321), whatever the schema says.
EMAIL_MAX = 254
EMAIL_COLUMNS = (col(User.email), col(Tenant.contact_email), col(Invitation.email))


def request_schemas() -> list[type[BaseModel]]:
    create_app(Settings(_env_file=None, secret_key="k" * 40))  # imports every router
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [RequestSchema]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return is_text(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(is_text(arg) for arg in typing.get_args(annotation))
    return False


def text_fields() -> list[tuple[str, str, int | None]]:
    fields = []
    for schema in request_schemas():
        for name, field in schema.model_fields.items():
            if is_text(field.annotation):
                limits = [
                    m.max_length for m in field.metadata if isinstance(m, annotated_types.MaxLen)
                ]
                fields.append((schema.__name__, name, min(limits) if limits else None))
    return fields


def test_the_walk_finds_the_request_schemas() -> None:
    names = {schema.__name__ for schema in request_schemas()}
    assert {"RegisterRequest", "TenantCreate", "HostCreate", "UserUpdate"} <= names


@pytest.mark.parametrize(("schema", "field", "max_length"), text_fields())
def test_every_text_field_is_bounded_and_fits_its_column(
    schema: str, field: str, max_length: int | None
) -> None:
    assert (schema, field) in DESTINATIONS, (
        f"{schema}.{field}: say in DESTINATIONS where this field is stored"
    )
    assert max_length is not None, f"{schema}.{field} has no max_length"
    destination = DESTINATIONS[schema, field]
    if destination == "subdomain":
        # The service checks the length (INVALID_SUBDOMAIN, 400) before the column sees it.
        assert rules.SUBDOMAIN_MAX <= col(Tenant.subdomain).type.length  # type: ignore[attr-defined]
    elif isinstance(destination, Column) and isinstance(destination.type, String):
        if destination.type.length is not None:
            assert max_length <= destination.type.length, (
                f"{schema}.{field} accepts {max_length} characters; "
                f"{destination} holds {destination.type.length}"
            )


def test_every_email_column_holds_any_valid_email() -> None:
    for column in EMAIL_COLUMNS:
        assert column.type.length >= EMAIL_MAX, column  # type: ignore[attr-defined]


async def test_an_email_too_long_for_its_column_is_a_422(client: httpx.AsyncClient) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert len(email) > EMAIL_MAX
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "a-fine-long-passphrase", "full_name": "Long"},
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


# -- names: each alone fits, and so do the names made from them ---------------------------

NAME_CASES: list[dict[str, str]] = [
    {"full_name": "F" * 200},
    {"full_name": "F" * 101},
    {"full_name": "First " + "L" * 150},
    {"full_name": "F" * 150 + " " + "L" * 49},
    {"first_name": "F" * 100, "last_name": "L" * 99},
    {"first_name": "F" * 100, "last_name": "L" * 100},
    {"first_name": "F" * 100},
    {"last_name": "L" * 100},
]


def assert_names_fit(user: dict[str, Any]) -> None:
    assert len(user["full_name"]) <= 200
    assert len(user["first_name"]) <= 100
    assert len(user["last_name"]) <= 100


@pytest.mark.parametrize("names", NAME_CASES)
async def test_names_through_the_profile_fit_or_are_a_422(
    client: httpx.AsyncClient, owner: LoggedIn, names: dict[str, str]
) -> None:
    response = await client.patch("/api/v1/auth/profile", json=names, headers=owner.headers)
    if response.status_code == 422:
        assert_envelope(response, 422, "VALIDATION_ERROR")
        assert set(response.json()["error"]["details"]) & {"first_name", "last_name"}
        return
    assert response.status_code == 200, response.text
    user = response.json()
    assert_names_fit(user)
    if "full_name" in names:
        assert user["full_name"] == names["full_name"]
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.json()["full_name"] == user["full_name"]


@pytest.mark.parametrize("names", NAME_CASES)
async def test_names_at_registration_fit_or_are_a_422(
    client: httpx.AsyncClient, names: dict[str, str]
) -> None:
    body = {"email": "names@example.com", "password": "a-fine-long-passphrase", **names}
    response = await client.post("/api/v1/auth/register", json=body)
    if response.status_code == 422:
        assert_envelope(response, 422, "VALIDATION_ERROR")
        return
    assert response.status_code == 201, response.text
    assert_names_fit(response.json())


async def test_names_through_the_users_api_fit_or_are_a_422(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "named@example.com", "full_name": "Named Person"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/users/{created.json()['id']}"
    for names in NAME_CASES:
        response = await client.patch(path, json=names, headers=admin.headers)
        assert response.status_code in (200, 422), (names, response.text)
        if response.status_code == 200:
            assert_names_fit(response.json())
    too_long = await client.post(
        "/api/v1/users",
        json={"email": "n2@example.com", "first_name": "F" * 100, "last_name": "L" * 100},
        headers=admin.headers,
    )
    assert_envelope(too_long, 422, "VALIDATION_ERROR")
