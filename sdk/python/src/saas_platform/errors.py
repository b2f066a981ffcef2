"""Exceptions: one class per error code of the platform's envelope, grouped by HTTP status.

Every error answer of the API has the body
``{"error": {"code", "message", "details", "request_id", "timestamp"}}``;
:func:`error_from_response` turns it into the class registered for its ``code``
(``TENANT_NOT_FOUND`` -> :class:`TenantNotFound`), else into the class of its status (an
unknown ``*_NOT_FOUND`` is still a :class:`NotFound`), so callers catch as narrowly or as
broadly as they like.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BackupFailed",
    "BackupNotFound",
    "BackupQuotaExceeded",
    "BadRequest",
    "BillingError",
    "Conflict",
    "EmailTaken",
    "InstanceNotFound",
    "InternalServerError",
    "InvalidSubdomain",
    "InvoiceNotFound",
    "MaintenanceMode",
    "NotFound",
    "OdooUnavailable",
    "PermissionDenied",
    "PlanNotFound",
    "ProvisioningFailed",
    "RateLimitExceeded",
    "RestoreFailed",
    "RestoreNotFound",
    "SaasPlatformError",
    "SubscriptionNotFound",
    "TenantLimitExceeded",
    "TenantNotFound",
    "UserNotFound",
    "ValidationError",
    "WaitTimeout",
    "WebhookEndpointNotFound",
    "WebhookVerificationError",
    "error_from_response",
]


class SaasPlatformError(Exception):
    """Base of every exception the SDK raises."""


class APIConnectionError(SaasPlatformError):
    """The platform could not be reached (connection refused, timeout, broken connection)."""


class WaitTimeout(SaasPlatformError, TimeoutError):
    """A ``wait_until_...`` helper gave up before the resource reached the awaited state."""


class WebhookVerificationError(SaasPlatformError):
    """A webhook's signature, timestamp or headers did not verify: do not trust its body."""


class APIError(SaasPlatformError):
    """An error answer of the API, with the envelope's fields."""

    status_code: int = 0
    default_code: str = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        if status_code is not None:
            self.status_code = status_code
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.response = response

    def __str__(self) -> str:
        request = f", request_id={self.request_id}" if self.request_id else ""
        return f"{self.code} ({self.status_code}): {self.message}{request}"


class BadRequest(APIError):
    status_code = 400
    default_code = "BAD_REQUEST"


class TenantLimitExceeded(BadRequest):
    default_code = "TENANT_LIMIT_EXCEEDED"


class InvalidSubdomain(BadRequest):
    default_code = "INVALID_SUBDOMAIN"


class BackupQuotaExceeded(BadRequest):
    default_code = "BACKUP_QUOTA_EXCEEDED"


class AuthenticationError(APIError):
    """401: no credentials, a wrong password, an expired or revoked token or key."""

    status_code = 401
    default_code = "UNAUTHORIZED"


class BillingError(APIError):
    status_code = 402
    default_code = "BILLING_ERROR"


class PermissionDenied(APIError):
    """403: authenticated, but not allowed (a tenant role, a key's scopes, a confined key)."""

    status_code = 403
    default_code = "FORBIDDEN"


class NotFound(APIError):
    status_code = 404
    default_code = "NOT_FOUND"


class TenantNotFound(NotFound):
    default_code = "TENANT_NOT_FOUND"


class UserNotFound(NotFound):
    default_code = "USER_NOT_FOUND"


class InstanceNotFound(NotFound):
    default_code = "INSTANCE_NOT_FOUND"


class BackupNotFound(NotFound):
    default_code = "BACKUP_NOT_FOUND"


class RestoreNotFound(NotFound):
    default_code = "RESTORE_NOT_FOUND"


class SubscriptionNotFound(NotFound):
    default_code = "SUBSCRIPTION_NOT_FOUND"


class InvoiceNotFound(NotFound):
    default_code = "INVOICE_NOT_FOUND"


class PlanNotFound(NotFound):
    default_code = "PLAN_NOT_FOUND"


class WebhookEndpointNotFound(NotFound):
    default_code = "WEBHOOK_ENDPOINT_NOT_FOUND"


class Conflict(APIError):
    status_code = 409
    default_code = "CONFLICT"


class EmailTaken(Conflict):
    default_code = "EMAIL_TAKEN"


class ValidationError(APIError):
    """422: ``details`` maps each field to its list of messages."""

    status_code = 422
    default_code = "VALIDATION_ERROR"


class RateLimitExceeded(APIError):
    """429, after the client's own retries (``max_retries``) ran out."""

    status_code = 429
    default_code = "RATE_LIMIT_EXCEEDED"

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.response) if self.response is not None else None


class InternalServerError(APIError):
    status_code = 500
    default_code = "INTERNAL_ERROR"


class ProvisioningFailed(InternalServerError):
    """Raised by the API, and by ``tenants.wait_until_ready`` when provisioning failed."""

    default_code = "PROVISIONING_FAILED"


class BackupFailed(InternalServerError):
    default_code = "BACKUP_FAILED"


class RestoreFailed(InternalServerError):
    """Raised by ``backups.wait_until_restored`` when the restore failed (the tenant is back
    on its previous data when ``details["status"]`` is ``rolled_back``)."""

    default_code = "RESTORE_FAILED"


class OdooUnavailable(APIError):
    status_code = 502
    default_code = "ODOO_UNAVAILABLE"


class MaintenanceMode(APIError):
    status_code = 503
    default_code = "MAINTENANCE_MODE"


def _by_code() -> dict[str, type[APIError]]:
    found: dict[str, type[APIError]] = {}
    pending: list[type[APIError]] = [APIError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.default_code, cls)
        pending.extend(cls.__subclasses__())
    return found


ERRORS_BY_CODE: dict[str, type[APIError]] = _by_code()
ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    402: BillingError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
    429: RateLimitExceeded,
    502: OdooUnavailable,
    503: MaintenanceMode,
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer (any status >= 400)."""
    status = response.status_code
    envelope: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            envelope = body["error"]
    except ValueError:
        pass
    code = str(envelope.get("code") or "")
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        if code.endswith("_NOT_FOUND"):
            cls = NotFound
        else:
            cls = ERRORS_BY_STATUS.get(status) or (
                InternalServerError if status >= 500 else APIError
            )
    message = str(envelope.get("message") or response.reason_phrase or f"HTTP {status}")
    details = envelope.get("details")
    return cls(
        message,
        code=code or cls.default_code,
        status_code=status,
        details=details if isinstance(details, dict) else {"value": details} if details else {},
        request_id=envelope.get("request_id") or response.headers.get("x-request-id"),
        response=response,
    )
