// @vitest-environment jsdom
/**
 * The React hooks in a rendered tree: `useTenant(id)` follows a tenant from provisioning to
 * ready and through a rename, and `useTenants()` sees a new tenant, all from the event
 * stream (the hooks never poll: every change they show came as an event).
 */
import { renderHook, waitFor } from "@testing-library/react";
import { createElement, type ReactNode } from "react";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Client } from "../src/index.js";
import { SaasProvider, useTenant, useTenants } from "../src/react.js";
import { registeredClient, uniqueSubdomain } from "./platform.js";

describe("React hooks", () => {
  let client: Client;
  let reads = 0;

  beforeAll(async () => {
    ({ client } = await registeredClient("react"));
    // Count the platform reads the hooks make, to show they do not poll.
    const get = client.tenants.get.bind(client.tenants);
    client.tenants.get = (id: string) => {
      reads++;
      return get(id);
    };
  });

  it("useTenant and useTenants update live from the stream", async () => {
    const created = await client.tenants.create({
      name: "React Co",
      subdomain: uniqueSubdomain("react"),
    });
    const wrapper = ({ children }: { children?: ReactNode }) =>
      createElement(SaasProvider, { client }, children);
    const { result, unmount } = renderHook(
      () => ({ tenant: useTenant(created.id), tenants: useTenants({ page_size: 10 }) }),
      { wrapper },
    );
    expect(result.current.tenant.loading).toBe(true);
    await waitFor(() => expect(result.current.tenant.data?.id).toBe(created.id));
    expect(result.current.tenants.data?.count).toBe(1);

    await waitFor(() => expect(result.current.tenant.data?.status).toBe("ready"), {
      timeout: 240_000,
      interval: 100,
    });
    expect(result.current.tenant.data?.instance?.status).toBe("ready");
    await waitFor(() => expect(result.current.tenants.data?.results[0]?.status).toBe("ready"));

    const before = reads;
    await client.tenants.update(created.id, { name: "React Co renamed" });
    await waitFor(() => expect(result.current.tenant.data?.name).toBe("React Co renamed"), {
      timeout: 10_000,
    });
    expect(reads - before).toBeGreaterThanOrEqual(1); // the tenant.updated event's read
    // With no event, no read: the hook does not poll.
    const quiet = reads;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(reads).toBe(quiet);

    const second = await client.tenants.create({
      name: "React Two",
      subdomain: uniqueSubdomain("reacttwo"),
    });
    await waitFor(() => expect(result.current.tenants.data?.count).toBe(2), { timeout: 10_000 });
    expect(result.current.tenants.data?.results.map((t) => t.id)).toContain(second.id);
    unmount();
  });

  afterAll(async () => {
    await client?.auth.logout();
  });
});
