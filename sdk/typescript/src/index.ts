export {
  Client,
  OperationFailedError,
  unwrap,
  type ApiKey,
  type ApiKeyCreate,
  type ApiKeyCreated,
  type Backup,
  type BackupCreate,
  type BackupQuery,
  type ClientOptions,
  type Registered,
  type Registration,
  type Tenant,
  type TenantCreate,
  type TenantQuery,
  type TenantUpdate,
  type User,
  type UserQuery,
  type WaitForOptions,
  type WaitOptions,
} from "./client.js";
export * from "./errors.js";
export type { Tokens } from "./auth.js";
export { streamEvents, type PlatformEvent, type StreamOptions } from "./events.js";
export { collect, pages, paginate, type Page, type PageFetcher } from "./pagination.js";
export type { RetryInfo } from "./transport.js";
export type { components, operations, paths } from "./schema.js";
