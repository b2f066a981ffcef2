/**
 * Vue composables: `useTenants()` and `useTenant(id)` give refs that update live from the
 * client's event stream. Install the client once with `app.use(saasPlugin(client))`, or pass
 * it: `useTenant(id, { client })`. They work in `setup()` and in any effect scope.
 */
import {
  getCurrentScope,
  hasInjectionContext,
  inject,
  onScopeDispose,
  shallowRef,
  toValue,
  watch,
  type App,
  type InjectionKey,
  type MaybeRefOrGetter,
  type ShallowRef,
} from "vue";

import type { Client, Tenant, TenantQuery } from "./client.js";
import type { PlatformEvent } from "./events.js";
import { aboutTenant, aboutTenants, LiveQuery } from "./live.js";
import type { Page } from "./pagination.js";

export const SAAS_CLIENT: InjectionKey<Client> = Symbol("saas-platform-client");

/** `app.use(saasPlugin(client))`: every composable of the app uses this client. */
export function saasPlugin(client: Client): { install(app: App): void } {
  return {
    install(app: App) {
      app.provide(SAAS_CLIENT, client);
    },
  };
}

export interface ComposableOptions {
  client?: Client | undefined;
}

export interface LiveRefs<Value> {
  data: ShallowRef<Value | undefined>;
  error: ShallowRef<Error | undefined>;
  loading: ShallowRef<boolean>;
  refresh: () => Promise<void>;
}

function clientOf(options: ComposableOptions): Client {
  const client = options.client ?? (hasInjectionContext() ? inject(SAAS_CLIENT, null) : null);
  if (client === null) {
    throw new Error("No client: app.use(saasPlugin(client)) or pass { client }");
  }
  return client;
}

function useLive<Value>(
  client: Client,
  key: () => string | undefined,
  read: () => Promise<Value>,
  concerns: () => (event: PlatformEvent) => boolean,
): LiveRefs<Value> {
  const data = shallowRef<Value | undefined>();
  const error = shallowRef<Error | undefined>();
  const loading = shallowRef(true);
  let query: LiveQuery<Value> | undefined;
  const stopWatching = watch(
    key,
    (current) => {
      query?.stop();
      query = undefined;
      if (current === undefined) {
        data.value = undefined;
        loading.value = false;
        return;
      }
      const concerning = concerns();
      query = new LiveQuery(client, read, concerning, (state) => {
        data.value = state.data;
        error.value = state.error;
        loading.value = state.loading;
      });
      loading.value = true;
      query.start();
    },
    { immediate: true },
  );
  if (getCurrentScope()) {
    onScopeDispose(() => {
      stopWatching();
      query?.stop();
    });
  }
  return { data, error, loading, refresh: () => query?.refresh() ?? Promise.resolve() };
}

/** A page of the caller's tenants; `query` may be a ref or getter (read again on change). */
export function useTenants(
  query: MaybeRefOrGetter<TenantQuery> = {},
  options: ComposableOptions = {},
): LiveRefs<Page<Tenant>> {
  const client = clientOf(options);
  return useLive(
    client,
    () => JSON.stringify(toValue(query)),
    () => client.tenants.list(toValue(query)),
    () => aboutTenants,
  );
}

/** One tenant, updated when an event about it arrives; the id may be a ref or getter. */
export function useTenant(
  tenantId: MaybeRefOrGetter<string | undefined>,
  options: ComposableOptions = {},
): LiveRefs<Tenant> {
  const client = clientOf(options);
  return useLive(
    client,
    () => toValue(tenantId),
    () => client.tenants.get(toValue(tenantId)!),
    () => aboutTenant(toValue(tenantId) ?? ""),
  );
}
