/**
 * The platform's event stream (`GET /api/v1/events/stream`, Server-Sent Events) read with
 * `fetch` rather than `EventSource`, so the credentials travel in headers (EventSource sends
 * none) and the same code runs in browsers and Node. Reconnects by itself, sending the last
 * id it handled as `Last-Event-ID`: the platform replays what was missed (docs/events.md).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

import { errorFromResponse } from "./errors.js";
import { sleep, type Transport } from "./transport.js";

/** One event: the body an outbound webhook receives, with the stream's id. */
export interface PlatformEvent<Data = Record<string, unknown>> {
  /** The event's sequence number; increasing. */
  id: string;
  /** `tenant.ready`, `backup.completed`, ... (docs/webhooks.md lists them). */
  type: string;
  timestamp: string;
  data: Data;
}

export interface StreamOptions {
  /** Only this tenant's events. */
  tenantId?: string | undefined;
  /** Resume after this event id. */
  lastEventId?: string | undefined;
  /** Stops the stream (the iterator then ends). */
  signal?: AbortSignal | undefined;
  /** Called each time the stream listens: from then on no event is missed. */
  onReady?: (() => void) | undefined;
  /** Called when a connection fails or ends, before reconnecting. */
  onDisconnect?: ((error: unknown) => void) | undefined;
  /** First wait before reconnecting (default 1 s), doubled each failure up to `maxReconnectMs`. */
  reconnectMs?: number | undefined;
  maxReconnectMs?: number | undefined;
}

// Statuses after which reconnecting changes nothing: the caller must act.
const FINAL_STATUSES = new Set([400, 401, 403, 404, 422]);

/** The caller's events as an async iterator that reconnects until `signal` aborts. */
export async function* streamEvents(
  transport: Transport,
  options: StreamOptions = {},
): AsyncGenerator<PlatformEvent> {
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  let lastEventId = options.lastEventId;
  let delay = options.reconnectMs ?? 1000;
  const maxDelay = options.maxReconnectMs ?? 30_000;
  let serverRetry: number | undefined;
  let renewed = false;
  try {
    while (!stop.signal.aborted) {
      const received: PlatformEvent[] = [];
      let failure: unknown;
      let waitMs: number | undefined;
      try {
        const query = options.tenantId ? `?tenant_id=${encodeURIComponent(options.tenantId)}` : "";
        const sent = await transport.credentials.headers();
        const headers: Record<string, string> = { ...sent, Accept: "text/event-stream" };
        if (lastEventId !== undefined) headers["Last-Event-ID"] = lastEventId;
        const response = await transport.direct(
          new Request(transport.url(`/api/v1/events/stream${query}`), {
            headers,
            signal: stop.signal,
            cache: "no-store",
          }),
        );
        if (!response.ok || response.body === null) {
          const body: unknown = await response.json().catch(() => undefined);
          const error = errorFromResponse(response, body);
          if (response.status === 401 && !renewed && (await transport.credentials.renew(sent))) {
            renewed = true;
            continue;
          }
          if (FINAL_STATUSES.has(response.status)) throw error;
          failure = error;
          if (error.retryAfter !== undefined) waitMs = error.retryAfter * 1000;
        } else {
          renewed = false;
          const parser = createParser({
            onEvent(message: EventSourceMessage) {
              const event = toEvent(message);
              if (event !== undefined) received.push(event);
            },
            onComment(comment: string) {
              if (comment.trim() === "ready") {
                delay = options.reconnectMs ?? 1000; // a working connection resets the backoff
                options.onReady?.();
              }
            },
            onRetry(ms: number) {
              serverRetry = ms;
            },
          });
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              parser.feed(value);
              while (received.length > 0) {
                const event = received.shift()!;
                lastEventId = event.id;
                yield event;
              }
            }
          } finally {
            reader.releaseLock();
          }
          failure = new Error("The event stream ended");
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        if (error instanceof Error && "code" in error && "status" in error) {
          const status = (error as { status: number }).status;
          if (FINAL_STATUSES.has(status)) throw error;
        }
        failure = error;
      }
      options.onDisconnect?.(failure);
      const wait = waitMs ?? serverRetry ?? delay;
      delay = Math.min(maxDelay, delay * 2);
      try {
        await sleep(wait, stop.signal);
      } catch {
        return; // aborted while waiting
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", abort);
    stop.abort(); // the consumer stopped iterating: close the connection
  }
}

function toEvent(message: EventSourceMessage): PlatformEvent | undefined {
  if (message.id === undefined) return undefined;
  let body: { type?: string; timestamp?: string; data?: Record<string, unknown> };
  try {
    body = JSON.parse(message.data) as typeof body;
  } catch {
    return undefined;
  }
  return {
    id: message.id,
    type: body.type ?? message.event ?? "message",
    timestamp: body.timestamp ?? "",
    data: body.data ?? {},
  };
}

export type EventListener = (event: PlatformEvent) => void;

/**
 * One stream per client, shared by every subscriber (hooks, composables, `waitUntil...`):
 * opened with the first subscription, closed with the last.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private readonly readyListeners = new Set<() => void>();
  private controller: AbortController | undefined;
  private ready = false;

  constructor(private readonly transport: Transport) {}

  /**
   * Call `listener` with every event until the returned function is called. `onReady` is
   * called once the shared stream listens (at once if it already does).
   */
  subscribe(listener: EventListener, onReady?: () => void): () => void {
    this.listeners.add(listener);
    if (onReady) {
      if (this.ready) queueMicrotask(onReady);
      else this.readyListeners.add(onReady);
    }
    this.start();
    return () => {
      this.listeners.delete(listener);
      if (onReady) this.readyListeners.delete(onReady);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private start(): void {
    if (this.controller !== undefined) return;
    const controller = (this.controller = new AbortController());
    void (async () => {
      try {
        const stream = streamEvents(this.transport, {
          signal: controller.signal,
          onReady: () => {
            this.ready = true;
            for (const ready of [...this.readyListeners]) ready();
            this.readyListeners.clear();
          },
          onDisconnect: () => {
            this.ready = false;
          },
        });
        for await (const event of stream) {
          for (const listener of [...this.listeners]) {
            try {
              listener(event);
            } catch (error) {
              console.error("An event listener failed", error);
            }
          }
        }
      } catch (error) {
        console.error("The event stream stopped", error);
      } finally {
        if (this.controller === controller) {
          this.controller = undefined;
          this.ready = false;
        }
      }
    })();
  }

  private stop(): void {
    this.controller?.abort();
    this.controller = undefined;
    this.ready = false;
  }
}
