/**
 * Errors thrown by the SDK, one class per error code of the platform's envelope
 * (`{"error": {"code", "message", "details", "request_id"}}`, conventions.md), so callers
 * can `catch (e) { if (e instanceof TenantNotFoundError) ... }` or switch on `e.code`.
 */

export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    details?: unknown;
    request_id?: string;
    timestamp?: string;
  };
}

/** Any answer of the platform that is not a success. */
export class ApiError extends Error {
  override name = "ApiError";
  /** The envelope's code (`TENANT_NOT_FOUND`, `VALIDATION_ERROR`, ...). */
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly requestId: string | undefined;
  /** Seconds the platform asked to wait (429 and 503), from `Retry-After`. */
  readonly retryAfter: number | undefined;

  constructor(init: {
    code: string;
    message: string;
    status: number;
    details?: unknown;
    requestId?: string | undefined;
    retryAfter?: number | undefined;
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? {};
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

export class ValidationError extends ApiError {
  override name = "ValidationError";
}
export class UnauthorizedError extends ApiError {
  override name = "UnauthorizedError";
}
export class ForbiddenError extends ApiError {
  override name = "ForbiddenError";
}
/** Every `*_NOT_FOUND` code; the specific ones below are subclasses of it. */
export class NotFoundError extends ApiError {
  override name = "NotFoundError";
}
export class TenantNotFoundError extends NotFoundError {
  override name = "TenantNotFoundError";
}
export class UserNotFoundError extends NotFoundError {
  override name = "UserNotFoundError";
}
export class BackupNotFoundError extends NotFoundError {
  override name = "BackupNotFoundError";
}
export class ConflictError extends ApiError {
  override name = "ConflictError";
}
export class EmailTakenError extends ConflictError {
  override name = "EmailTakenError";
}
export class TenantLimitExceededError extends ApiError {
  override name = "TenantLimitExceededError";
}
export class InvalidSubdomainError extends ApiError {
  override name = "InvalidSubdomainError";
}
export class BillingError extends ApiError {
  override name = "BillingError";
}
export class RateLimitError extends ApiError {
  override name = "RateLimitError";
}
export class OdooUnavailableError extends ApiError {
  override name = "OdooUnavailableError";
}
export class MaintenanceModeError extends ApiError {
  override name = "MaintenanceModeError";
}
export class ServerError extends ApiError {
  override name = "ServerError";
}

type ErrorClass = new (init: ConstructorParameters<typeof ApiError>[0]) => ApiError;

const BY_CODE: Record<string, ErrorClass> = {
  VALIDATION_ERROR: ValidationError,
  UNAUTHORIZED: UnauthorizedError,
  FORBIDDEN: ForbiddenError,
  NOT_FOUND: NotFoundError,
  TENANT_NOT_FOUND: TenantNotFoundError,
  USER_NOT_FOUND: UserNotFoundError,
  BACKUP_NOT_FOUND: BackupNotFoundError,
  CONFLICT: ConflictError,
  EMAIL_TAKEN: EmailTakenError,
  TENANT_LIMIT_EXCEEDED: TenantLimitExceededError,
  INVALID_SUBDOMAIN: InvalidSubdomainError,
  BILLING_ERROR: BillingError,
  RATE_LIMIT_EXCEEDED: RateLimitError,
  ODOO_UNAVAILABLE: OdooUnavailableError,
  MAINTENANCE_MODE: MaintenanceModeError,
};

/** The class for a code the table does not name, from the HTTP status. */
function byStatus(status: number, code: string): ErrorClass {
  if (code.endsWith("_NOT_FOUND") || status === 404) return NotFoundError;
  if (status === 401) return UnauthorizedError;
  if (status === 403) return ForbiddenError;
  if (status === 409) return ConflictError;
  if (status === 422) return ValidationError;
  if (status === 429) return RateLimitError;
  if (status >= 500) return ServerError;
  return ApiError;
}

function retryAfterOf(response: Response): number | undefined {
  const value = response.headers.get("Retry-After");
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value); // the HTTP-date form
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The typed error for a failed response whose body (parsed, or not JSON) is `body`. */
export function errorFromResponse(response: Response, body: unknown): ApiError {
  const envelope = (body as Partial<ErrorEnvelope> | undefined)?.error;
  const code =
    typeof envelope?.code === "string" ? envelope.code : `HTTP_${String(response.status)}`;
  const message =
    typeof envelope?.message === "string"
      ? envelope.message
      : `${String(response.status)} ${response.statusText}`.trim();
  const Class = BY_CODE[code] ?? byStatus(response.status, code);
  return new Class({
    code,
    message,
    status: response.status,
    details: envelope?.details,
    requestId: envelope?.request_id ?? response.headers.get("X-Request-ID") ?? undefined,
    retryAfter: retryAfterOf(response),
  });
}

export { retryAfterOf };
