/**
 * `new Client({ apiKey })` or `new Client({ email, password })`: typed calls to the platform
 * (types generated from its OpenAPI document into `schema.d.ts`, calls made by
 * `openapi-fetch`), with resource namespaces on top for what applications do most.
 * `client.api` is the typed `openapi-fetch` client for every other endpoint.
 */
import createClient, { type Client as FetchClient } from "openapi-fetch";

import { ApiKeyCredentials, SessionCredentials, type Tokens } from "./auth.js";
import { ApiError, errorFromResponse } from "./errors.js";
import { EventHub, streamEvents, type PlatformEvent, type StreamOptions } from "./events.js";
import { paginate, type Page } from "./pagination.js";
import type { paths } from "./schema.js";
import { Transport, type FetchLike, type RetryInfo } from "./transport.js";

type JsonOf<Response> = Response extends { content: { "application/json": infer Body } }
  ? Body
  : never;
type Ok<Path extends keyof paths, Method extends keyof paths[Path], Status extends number> =
  paths[Path][Method] extends { responses: Record<Status, infer Response> }
    ? JsonOf<Response>
    : never;
type Body<Path extends keyof paths, Method extends keyof paths[Path]> = paths[Path][Method] extends {
  requestBody?: { content: { "application/json": infer Payload } };
}
  ? NonNullable<Payload>
  : never;
type Query<Path extends keyof paths, Method extends keyof paths[Path]> = paths[Path][Method] extends {
  parameters: { query?: infer Params };
}
  ? NonNullable<Params>
  : never;

export type Tenant = Ok<"/api/v1/tenants/{tenant_id}", "get", 200>;
export type TenantCreate = Body<"/api/v1/tenants", "post">;
export type TenantUpdate = Body<"/api/v1/tenants/{tenant_id}", "patch">;
export type TenantQuery = Query<"/api/v1/tenants", "get">;
export type Backup = Ok<"/api/v1/tenants/{tenant_id}/backups/{backup_id}", "get", 200>;
export type BackupCreate = Body<"/api/v1/tenants/{tenant_id}/backups", "post">;
export type BackupQuery = Query<"/api/v1/tenants/{tenant_id}/backups", "get">;
export type User = Ok<"/api/v1/auth/me", "get", 200>;
export type UserQuery = Query<"/api/v1/users", "get">;
export type Registration = Body<"/api/v1/auth/register", "post">;
export type Registered = Ok<"/api/v1/auth/register", "post", 201>;
export type ApiKeyCreate = Body<"/api/v1/api-keys", "post">;
export type ApiKeyCreated = Ok<"/api/v1/api-keys", "post", 201>;
export type ApiKey = Ok<"/api/v1/api-keys", "get", 200>["results"][number];

export interface ClientOptions {
  /**
   * The platform's address, e.g. `https://saas.example.com`; in a browser page served by the
   * platform itself it may be left out (the page's origin).
   */
  baseUrl?: string | undefined;
  /** An API key (`saas_live_...`); or else `email` and `password`, or `tokens`. */
  apiKey?: string | undefined;
  email?: string | undefined;
  password?: string | undefined;
  /** Tokens kept from an earlier session; refreshed as needed. */
  tokens?: Tokens | undefined;
  /** Told of every new pair of tokens (to keep them), and of `null` at logout. */
  onTokens?: ((tokens: Tokens | null) => void) | undefined;
  /** Requests in flight at most (default 6). */
  concurrency?: number | undefined;
  /** Retries of one request on 429, 502, 503 (default 5). */
  maxRetries?: number | undefined;
  /** Told of every retry. */
  onRetry?: ((info: RetryInfo) => void) | undefined;
  fetch?: FetchLike | undefined;
}

export interface WaitOptions {
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** The operation the caller waited for ended in failure (provisioning, a backup). */
export class OperationFailedError extends Error {
  override name = "OperationFailedError";
  constructor(
    message: string,
    readonly event: PlatformEvent | undefined,
  ) {
    super(message);
  }
}

/** The data of a successful call, or its typed error. */
export async function unwrap<Data>(
  call: Promise<{ data?: Data; error?: unknown; response: Response }>,
): Promise<Data> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) throw errorFromResponse(response, error);
  return data as Data;
}

function baseUrlOf(options: ClientOptions): string {
  if (options.baseUrl) return options.baseUrl;
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
  if (origin && origin !== "null") return origin;
  throw new Error("No baseUrl: pass the platform's address, e.g. https://saas.example.com");
}

export class Client {
  /** The typed `openapi-fetch` client: `client.api.GET("/api/v1/audit/logs", {...})`. */
  readonly api: FetchClient<paths>;
  readonly transport: Transport;
  readonly auth: AuthResource;
  readonly tenants: TenantsResource;
  readonly backups: BackupsResource;
  readonly users: UsersResource;
  readonly apiKeys: ApiKeysResource;
  readonly events: EventsResource;
  private readonly session: SessionCredentials | undefined;

  constructor(options: ClientOptions) {
    this.transport = new Transport({
      baseUrl: baseUrlOf(options),
      concurrency: options.concurrency,
      maxRetries: options.maxRetries,
      onRetry: options.onRetry,
      fetch: options.fetch,
    });
    if (options.apiKey !== undefined) {
      this.transport.credentials = new ApiKeyCredentials(options.apiKey);
    } else if (options.email !== undefined || options.tokens !== undefined) {
      this.session = new SessionCredentials(this.transport, {
        email: options.email,
        password: options.password,
        tokens: options.tokens,
        onTokens: options.onTokens,
      });
      this.transport.credentials = this.session;
    }
    this.api = createClient<paths>({
      baseUrl: this.transport.baseUrl,
      fetch: (request) => this.transport.send(request),
    });
    this.auth = new AuthResource(this, this.session);
    this.tenants = new TenantsResource(this);
    this.backups = new BackupsResource(this);
    this.users = new UsersResource(this);
    this.apiKeys = new ApiKeysResource(this);
    this.events = new EventsResource(this);
  }
}

class AuthResource {
  constructor(
    private readonly client: Client,
    private readonly session: SessionCredentials | undefined,
  ) {}

  /** Create an account (201); the platform mails a verification link. */
  register(body: Registration): Promise<Registered> {
    return unwrap(this.client.api.POST("/api/v1/auth/register", { body }));
  }

  verifyEmail(token: string): Promise<Ok<"/api/v1/auth/verify-email", "post", 200>> {
    return unwrap(this.client.api.POST("/api/v1/auth/verify-email", { body: { token } }));
  }

  /** Log in now with the client's email and password (the first call does it anyway). */
  async login(): Promise<Tokens> {
    if (this.session === undefined) throw new Error("This client has no login session");
    return this.session.login();
  }

  /** End the session: the refresh token is revoked on the platform. */
  async logout(): Promise<void> {
    await this.session?.logout();
  }

  /** The current tokens of a login session. */
  get tokens(): Tokens | undefined {
    return this.session?.current;
  }

  me(): Promise<User> {
    return unwrap(this.client.api.GET("/api/v1/auth/me"));
  }
}

class TenantsResource {
  constructor(private readonly client: Client) {}

  /** One page (`page`, `page_size`, filters `status`, `tier`, `search`, `ordering`...). */
  list(query: TenantQuery = {}): Promise<Page<Tenant>> {
    return unwrap(this.client.api.GET("/api/v1/tenants", { params: { query } }));
  }

  /** Every tenant, page after page: `for await (const tenant of client.tenants.iterate())`. */
  iterate(query: Omit<TenantQuery, "page"> = {}): AsyncGenerator<Tenant> {
    return paginate((page) => this.list({ ...query, page }));
  }

  get(tenantId: string): Promise<Tenant> {
    return unwrap(
      this.client.api.GET("/api/v1/tenants/{tenant_id}", {
        params: { path: { tenant_id: tenantId } },
      }),
    );
  }

  /** Create a tenant (202): it is provisioned in the background; see `waitUntilReady`. */
  create(body: TenantCreate): Promise<Tenant> {
    return unwrap(this.client.api.POST("/api/v1/tenants", { body }));
  }

  update(tenantId: string, body: TenantUpdate): Promise<Tenant> {
    return unwrap(
      this.client.api.PATCH("/api/v1/tenants/{tenant_id}", {
        params: { path: { tenant_id: tenantId } },
        body,
      }),
    );
  }

  async delete(tenantId: string): Promise<void> {
    await unwrap(
      this.client.api.DELETE("/api/v1/tenants/{tenant_id}", {
        params: { path: { tenant_id: tenantId } },
      }),
    );
  }

  /**
   * Resolve with the tenant once it is ready, told by the event stream (no polling);
   * reject with `OperationFailedError` when provisioning fails.
   */
  waitUntilReady(tenantId: string, options: WaitOptions = {}): Promise<Tenant> {
    return this.client.events.waitFor<Tenant>({
      tenantId,
      ...options,
      check: async () => {
        const tenant = await this.get(tenantId);
        if (tenant.status === "ready") return tenant;
        if (tenant.status === "failed") {
          throw new OperationFailedError(`Tenant ${tenantId} failed to provision`, undefined);
        }
        return undefined;
      },
      onEvent: async (event) => {
        if (event.data.tenant_id !== tenantId) return undefined;
        if (event.type === "tenant.provisioning_failed") {
          throw new OperationFailedError(`Tenant ${tenantId} failed to provision`, event);
        }
        return event.type === "tenant.ready" ? this.get(tenantId) : undefined;
      },
    });
  }
}

class BackupsResource {
  constructor(private readonly client: Client) {}

  list(tenantId: string, query: BackupQuery = {}): Promise<Page<Backup>> {
    return unwrap(
      this.client.api.GET("/api/v1/tenants/{tenant_id}/backups", {
        params: { path: { tenant_id: tenantId }, query },
      }),
    );
  }

  iterate(tenantId: string, query: Omit<BackupQuery, "page"> = {}): AsyncGenerator<Backup> {
    return paginate((page) => this.list(tenantId, { ...query, page }));
  }

  get(tenantId: string, backupId: string): Promise<Backup> {
    return unwrap(
      this.client.api.GET("/api/v1/tenants/{tenant_id}/backups/{backup_id}", {
        params: { path: { tenant_id: tenantId, backup_id: backupId } },
      }),
    );
  }

  /** Start a manual backup (202); see `waitUntilCompleted`. */
  create(tenantId: string, body: BackupCreate = {}): Promise<Backup> {
    return unwrap(
      this.client.api.POST("/api/v1/tenants/{tenant_id}/backups", {
        params: { path: { tenant_id: tenantId } },
        body,
      }),
    );
  }

  /** Resolve with the backup once completed, from the event stream; reject if it fails. */
  waitUntilCompleted(tenantId: string, backupId: string, options: WaitOptions = {}): Promise<Backup> {
    const settled = (backup: Backup): Backup | undefined => {
      if (backup.status === "completed") return backup;
      if (backup.status === "failed") {
        throw new OperationFailedError(`Backup ${backupId} failed`, undefined);
      }
      return undefined;
    };
    return this.client.events.waitFor<Backup>({
      tenantId,
      ...options,
      check: async () => settled(await this.get(tenantId, backupId)),
      onEvent: async (event) => {
        if (event.data.backup_id !== backupId) return undefined;
        if (event.type === "backup.failed") {
          throw new OperationFailedError(`Backup ${backupId} failed`, event);
        }
        return event.type === "backup.completed"
          ? settled(await this.get(tenantId, backupId))
          : undefined;
      },
    });
  }
}

class UsersResource {
  constructor(private readonly client: Client) {}

  /** One page of users (platform admins see everyone; others see themselves). */
  list(query: UserQuery = {}): Promise<Page<Ok<"/api/v1/users", "get", 200>["results"][number]>> {
    return unwrap(this.client.api.GET("/api/v1/users", { params: { query } }));
  }

  iterate(query: Omit<UserQuery, "page"> = {}) {
    return paginate((page) => this.list({ ...query, page }));
  }

  me(): Promise<User> {
    return this.client.auth.me();
  }
}

class ApiKeysResource {
  constructor(private readonly client: Client) {}

  /** Create a key (from a login session); its `key` is shown in this answer only. */
  create(body: ApiKeyCreate): Promise<ApiKeyCreated> {
    return unwrap(this.client.api.POST("/api/v1/api-keys", { body }));
  }

  list(): Promise<Page<ApiKey>> {
    return unwrap(this.client.api.GET("/api/v1/api-keys"));
  }

  async revoke(keyId: string): Promise<void> {
    await unwrap(
      this.client.api.DELETE("/api/v1/api-keys/{key_id}", {
        params: { path: { key_id: keyId } },
      }),
    );
  }
}

export interface WaitForOptions<Result> extends WaitOptions {
  tenantId?: string | undefined;
  /** Looks at the current state each time the stream listens; a value ends the wait. */
  check?: (() => Promise<Result | undefined>) | undefined;
  /** Looks at each event; a value ends the wait, a throw fails it. */
  onEvent: (event: PlatformEvent) => Promise<Result | undefined>;
}

class EventsResource {
  private readonly hub: EventHub;

  constructor(private readonly client: Client) {
    this.hub = new EventHub(client.transport);
  }

  /**
   * The caller's events as they happen, reconnecting with `Last-Event-ID` until
   * `options.signal` aborts: `for await (const event of client.events.stream()) ...`.
   */
  stream(options: StreamOptions = {}): AsyncGenerator<PlatformEvent> {
    return streamEvents(this.client.transport, options);
  }

  /**
   * `listener` gets every event of the client's one shared stream until the returned
   * function is called (what the React hooks and Vue composables use).
   */
  subscribe(listener: (event: PlatformEvent) => void, onReady?: () => void): () => void {
    return this.hub.subscribe(listener, onReady);
  }

  /**
   * Wait for something the stream will tell: `check` runs once the stream listens (so an
   * event sent before then is not missed: the state already shows it), then each event
   * goes to `onEvent` until one of them gives a value.
   */
  waitFor<Result>(options: WaitForOptions<Result>): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const stop = new AbortController();
      const timeoutMs = options.timeoutMs ?? 600_000;
      let settled = false;
      const finish = (settle: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        stop.abort(); // closes the stream
        settle();
      };
      const consider = (outcome: Promise<Result | undefined>): void => {
        outcome.then(
          (result) => {
            if (result !== undefined) finish(() => resolve(result));
          },
          (error: unknown) => finish(() => reject(error as Error)),
        );
      };
      const timer = setTimeout(() => {
        finish(() => reject(new Error(`Not done within ${String(timeoutMs)} ms`)));
      }, timeoutMs);
      const onAbort = (): void => finish(() => reject(options.signal?.reason as Error));
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const check = options.check;
      void (async () => {
        try {
          const events = streamEvents(this.client.transport, {
            tenantId: options.tenantId,
            signal: stop.signal,
            onReady: check ? () => consider(check()) : undefined,
          });
          for await (const event of events) consider(options.onEvent(event));
          finish(() => reject(new Error("The event stream stopped")));
        } catch (error) {
          finish(() => reject(error as Error));
        }
      })();
    });
  }
}

export { ApiError };
