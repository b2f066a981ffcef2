"""Domain errors. Each carries the code and status of conventions.md; one handler renders them."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.exc import IntegrityError


class ConfigurationError(Exception):
    """The process cannot start as configured. The message is one sentence for the operator."""


class AppError(Exception):
    status_code: int = 400
    code: str = "BAD_REQUEST"
    message: str = "Bad request"
    # Most errors undo the request's transaction. A few are the outcome of a rule that must
    # itself be recorded (a failed login counted, a reused token's family revoked): those keep
    # the work done so far, and the request's transaction commits before the error is sent.
    keeps_changes: bool = False
    # Unique constraints (or unique indexes) whose violation means this error: a request
    # that lost a race to a concurrent one answers what it would have answered second.
    unique_constraints: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"
    message = "Not found"


class Unauthorized(AppError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "Authentication required"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"
    message = "You do not have permission to do this"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"
    message = "The resource is not in a state that allows this"


class ValidationFailed(AppError):
    """A rule the schema cannot express; ``details`` maps field -> list of messages."""

    status_code = 422
    code = "VALIDATION_ERROR"
    message = "The request is invalid"

    @classmethod
    def for_field(cls, field: str, *messages: str) -> ValidationFailed:
        return cls(details={field: list(messages)})


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"
    message = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))
        self.headers["Retry-After"] = str(self.retry_after)


class PayloadTooLarge(AppError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "The request body is too large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message = "The request body's Content-Type is not one this endpoint takes"


class InternalError(AppError):
    status_code = 500
    code = "INTERNAL_ERROR"
    message = "An internal error occurred"


class MaintenanceMode(AppError):
    status_code = 503
    code = "MAINTENANCE_MODE"
    message = "The platform is in maintenance mode"


def all_error_classes(base: type[AppError] | None = None) -> list[type[AppError]]:
    """Every subclass of ``base`` (of AppError when not given), at any depth."""
    found: list[type[AppError]] = []
    for sub in (base or AppError).__subclasses__():
        found.append(sub)
        found.extend(all_error_classes(sub))
    return found


def error_for_unique_violation(constraint: str | None) -> AppError:
    """The error a violated unique constraint stands for; a plain CONFLICT when no domain
    error claims it (every domain's errors are imported by the time requests arrive)."""
    if constraint:
        for error in all_error_classes():
            if constraint in error.unique_constraints:
                return error()
    return Conflict("This conflicts with a change made at the same time; reload and try again")


# SQLSTATEs a concurrent request can cause: another transaction inserted the same key
# (unique_violation, exclusion_violation) or removed a row this one refers to (foreign_key).
UNIQUE_VIOLATIONS = frozenset({"23505", "23P01"})
FOREIGN_KEY_VIOLATION = "23503"


def conflict_for(exc: IntegrityError) -> AppError | None:
    """The answer to an integrity error a race can cause; None for any other (a bug)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in UNIQUE_VIOLATIONS:
        diag = getattr(exc.orig, "diag", None)
        return error_for_unique_violation(getattr(diag, "constraint_name", None))
    if sqlstate == FOREIGN_KEY_VIOLATION:
        return Conflict("Something this refers to was removed meanwhile; reload and try again")
    return None


class BillingError(AppError):
    """Payment required: a charge the provider refused, or a plan's limit reached (seats)."""

    status_code = 402
    code = "BILLING_ERROR"
    message = "Payment required"
