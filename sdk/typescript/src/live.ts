/**
 * A value read from the platform and read again whenever the event stream says it may have
 * changed: what the React hooks and Vue composables are made of. Framework-free.
 */
import type { Client } from "./client.js";
import type { PlatformEvent } from "./events.js";

export interface LiveState<Value> {
  data: Value | undefined;
  error: Error | undefined;
  /** True until the first read answers (and while reading after `refresh`). */
  loading: boolean;
}

export class LiveQuery<Value> {
  private state: LiveState<Value> = { data: undefined, error: undefined, loading: true };
  private unsubscribe: (() => void) | undefined;
  private reading: Promise<void> | undefined;
  private stale = false;
  private stopped = true;

  constructor(
    private readonly client: Client,
    private readonly read: () => Promise<Value>,
    /** Whether `event` may change the value (then it is read again). */
    private readonly concerns: (event: PlatformEvent) => boolean,
    private readonly onChange: (state: LiveState<Value>) => void,
  ) {}

  get current(): LiveState<Value> {
    return this.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // Read once the stream listens (again after each reconnection): what changed before
    // then is in what the read returns, what changes after comes as an event.
    this.unsubscribe = this.client.events.subscribe(
      (event) => {
        if (this.concerns(event)) void this.refresh();
      },
      () => void this.refresh(),
    );
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Read now; reads asked for while one runs are done once, after it. */
  refresh(): Promise<void> {
    if (this.reading) {
      this.stale = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.stale = false;
        try {
          const data = await this.read();
          if (this.stopped) return;
          this.set({ data, error: undefined, loading: false });
        } catch (error) {
          if (this.stopped) return;
          this.set({ data: this.state.data, error: error as Error, loading: false });
        }
      } while (this.stale && !this.stopped);
    })().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private set(state: LiveState<Value>): void {
    this.state = state;
    this.onChange(state);
  }
}

/** Events about one tenant (its instance, backups, members...). */
export function aboutTenant(tenantId: string): (event: PlatformEvent) => boolean {
  return (event) => event.data.tenant_id === tenantId;
}

/** Events that may change a list of tenants. */
export function aboutTenants(event: PlatformEvent): boolean {
  return event.type.startsWith("tenant.") || event.type.startsWith("instance.");
}
