/**
 * React hooks: `useTenants()` and `useTenant(id)` read through the client and update live
 * from its event stream. Put the client in context once:
 *
 *   <SaasProvider client={client}><App /></SaasProvider>
 *
 * or pass it to a hook: `useTenant(id, { client })`.
 */
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";

import type { Client, Tenant, TenantQuery } from "./client.js";
import type { PlatformEvent } from "./events.js";
import { aboutTenant, aboutTenants, LiveQuery, type LiveState } from "./live.js";
import type { Page } from "./pagination.js";

const ClientContext = createContext<Client | null>(null);

export function SaasProvider(props: { client: Client; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client given, or else the one of the nearest `SaasProvider`. */
export function useClient(client?: Client): Client {
  const provided = useContext(ClientContext);
  const found = client ?? provided;
  if (found === null) {
    throw new Error("No client: wrap the tree in <SaasProvider client={...}> or pass { client }");
  }
  return found;
}

export interface HookOptions {
  client?: Client | undefined;
}

export interface LiveResult<Value> extends LiveState<Value> {
  /** Read again now. */
  refresh: () => Promise<void>;
}

function useLive<Value>(
  client: Client,
  key: string | undefined,
  read: () => Promise<Value>,
  concerns: (event: PlatformEvent) => boolean,
): LiveResult<Value> {
  const [state, setState] = useState<LiveState<Value>>({
    data: undefined,
    error: undefined,
    loading: key !== undefined,
  });
  // A new query for each client and key; `read` and `concerns` are taken from that render.
  const query = useMemo(
    () => (key === undefined ? undefined : new LiveQuery(client, read, concerns, setState)),
    [client, key],
  );
  useEffect(() => {
    if (query === undefined) {
      setState({ data: undefined, error: undefined, loading: false });
      return undefined;
    }
    setState(query.current);
    query.start();
    return () => query.stop();
  }, [query]);
  const refresh = useCallback(() => query?.refresh() ?? Promise.resolve(), [query]);
  return { ...state, refresh };
}

/** A page of the caller's tenants, read again when a tenant or instance event arrives. */
export function useTenants(
  query: TenantQuery = {},
  options: HookOptions = {},
): LiveResult<Page<Tenant>> {
  const client = useClient(options.client);
  return useLive(client, JSON.stringify(query), () => client.tenants.list(query), aboutTenants);
}

/** One tenant, read again when an event about it arrives. `undefined` reads nothing. */
export function useTenant(
  tenantId: string | undefined,
  options: HookOptions = {},
): LiveResult<Tenant> {
  const client = useClient(options.client);
  return useLive(
    client,
    tenantId,
    () => client.tenants.get(tenantId!),
    aboutTenant(tenantId ?? ""),
  );
}
