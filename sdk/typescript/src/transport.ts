/**
 * Every call of the SDK goes through one `Transport`: a queue that runs at most
 * `concurrency` requests at once, adds the credentials, and retries what may be retried.
 *
 * - 429: the platform refused the request before doing anything, so any method is retried,
 *   after `Retry-After`; the whole queue waits that long, since the budget is the caller's,
 *   not the request's: sending the others at once would only spend more refusals.
 * - 502, 503 and network errors: retried with exponential backoff (or `Retry-After`) only
 *   for methods that are safe to repeat (GET, HEAD, OPTIONS, PUT, DELETE).
 * - 401: the credentials renew themselves once (token refresh, or a new login) and the
 *   request goes again.
 */
import PQueue from "p-queue";

import { retryAfterOf } from "./errors.js";

export type FetchLike = (request: Request) => Promise<Response>;

/** How requests are authenticated: an API key, a login session, or nothing. */
export interface Credentials {
  /** Headers to send; may log in or refresh first. */
  headers(): Promise<Record<string, string>>;
  /** Called on a 401 to a request sent with `sentHeaders`; true when it is worth retrying. */
  renew(sentHeaders: Record<string, string>): Promise<boolean>;
}

export const anonymous: Credentials = {
  headers: () => Promise.resolve({}),
  renew: () => Promise.resolve(false),
};

export interface RetryInfo {
  url: string;
  method: string;
  /** The status that caused the retry, or 0 for a network error. */
  status: number;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
}

export interface TransportOptions {
  baseUrl: string;
  /** Requests in flight at most (default 6, a browser's per-host connection count). */
  concurrency?: number | undefined;
  /** Retries of one request before its error is returned (default 5). */
  maxRetries?: number | undefined;
  /** Backoff before the first retry when the platform names no `Retry-After` (default 500 ms). */
  initialBackoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
  fetch?: FetchLike | undefined;
  /** Told of every retry (for logs and metrics). */
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

const SAFE_TO_REPEAT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class Transport {
  readonly baseUrl: string;
  credentials: Credentials = anonymous;
  private readonly queue: PQueue;
  private readonly maxRetries: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly fetchImpl: FetchLike;
  private readonly onRetry: ((info: RetryInfo) => void) | undefined;
  /** Epoch ms until which the queue is held after a 429. */
  private pausedUntil = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.queue = new PQueue({ concurrency: options.concurrency ?? 6 });
    this.maxRetries = options.maxRetries ?? 5;
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    // Bound late, so a test (or a polyfill) replacing globalThis.fetch is seen.
    this.fetchImpl = options.fetch ?? ((request) => globalThis.fetch(request));
    this.onRetry = options.onRetry;
  }

  /** Requests waiting for a free slot, and running. */
  get pending(): { queued: number; running: number } {
    return { queued: this.queue.size, running: this.queue.pending };
  }

  /**
   * Send `request` as it is: no queue, no credentials, no retry (the event stream, which
   * would hold a queue slot for as long as it lives, and handles its own reconnection).
   */
  direct(request: Request): Promise<Response> {
    return this.fetchImpl(request);
  }

  url(path: string): string {
    return this.baseUrl + path;
  }

  /** Send `request` through the queue, with credentials unless `authenticate` is false. */
  async send(request: Request, options: { authenticate?: boolean } = {}): Promise<Response> {
    const authenticate = options.authenticate ?? true;
    const method = request.method.toUpperCase();
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      // Credentials before taking a slot: a login or refresh goes through the queue too.
      const headers = authenticate ? await this.credentials.headers() : {};
      const attemptRequest = request.clone();
      for (const [name, value] of Object.entries(headers)) attemptRequest.headers.set(name, value);
      let response: Response;
      try {
        response = await this.queue.add(() => this.fetchImpl(attemptRequest), {
          // Retries go before requests that have not been tried yet.
          priority: attempt > 0 ? 1 : 0,
          signal: request.signal,
        });
      } catch (error) {
        if (request.signal.aborted || !SAFE_TO_REPEAT.has(method) || attempt >= this.maxRetries) {
          throw error;
        }
        await this.retryAfter(request, 0, attempt, this.backoff(attempt));
        continue;
      }
      const { status } = response;
      if (status === 401 && authenticate && !renewed) {
        renewed = true;
        if (await this.credentials.renew(headers)) {
          attempt--; // a renewed credential is not a retry
          continue;
        }
      }
      const retryable =
        status === 429 || ((status === 502 || status === 503) && SAFE_TO_REPEAT.has(method));
      if (!retryable || attempt >= this.maxRetries) return response;
      const named = retryAfterOf(response);
      const delayMs = named !== undefined ? named * 1000 : this.backoff(attempt);
      await response.body?.cancel();
      if (status === 429) this.holdQueue(delayMs);
      await this.retryAfter(request, status, attempt, delayMs);
    }
  }

  private backoff(attempt: number): number {
    const exponential = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** attempt);
    return exponential / 2 + Math.random() * (exponential / 2); // jitter: spread the retries
  }

  private async retryAfter(
    request: Request,
    status: number,
    attempt: number,
    delayMs: number,
  ): Promise<void> {
    this.onRetry?.({
      url: request.url,
      method: request.method,
      status,
      attempt: attempt + 1,
      delayMs,
    });
    await sleep(delayMs, request.signal);
  }

  /** Start no queued request for `delayMs`; requests already running finish. */
  private holdQueue(delayMs: number): void {
    const until = Date.now() + delayMs;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.queue.pause();
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.pausedUntil = 0;
      this.queue.start();
    }, delayMs);
  }
}
