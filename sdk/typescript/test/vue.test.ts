/**
 * The Vue composables in an effect scope (what a component's setup runs in): `useTenant`
 * follows a tenant to ready and through a rename, `useTenants` sees a new tenant, from the
 * event stream; disposing the scope closes the stream.
 */
import { effectScope } from "vue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Client } from "../src/index.js";
import { useTenant, useTenants } from "../src/vue.js";
import { registeredClient, uniqueSubdomain, until } from "./platform.js";

describe("Vue composables", () => {
  let client: Client;

  beforeAll(async () => {
    ({ client } = await registeredClient("vue"));
  });

  it("useTenant and useTenants update live from the stream", async () => {
    const created = await client.tenants.create({
      name: "Vue Co",
      subdomain: uniqueSubdomain("vue"),
    });
    const scope = effectScope();
    const state = scope.run(() => ({
      tenant: useTenant(() => created.id, { client }),
      tenants: useTenants({ page_size: 10 }, { client }),
    }))!;
    expect(state.tenant.loading.value).toBe(true);
    await until(() => state.tenant.data.value?.id === created.id, 30_000);
    expect(state.tenants.data.value?.count).toBe(1);

    await until(() => state.tenant.data.value?.status === "ready", 240_000);
    expect(state.tenant.data.value?.instance?.status).toBe("ready");

    await client.tenants.update(created.id, { name: "Vue Co renamed" });
    await until(() => state.tenant.data.value?.name === "Vue Co renamed", 10_000);

    await client.tenants.create({ name: "Vue Two", subdomain: uniqueSubdomain("vuetwo") });
    await until(() => state.tenants.data.value?.count === 2, 10_000);

    scope.stop();
    // Stopped: later changes are no longer followed.
    await client.tenants.update(created.id, { name: "Vue Co after" });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(state.tenant.data.value?.name).toBe("Vue Co renamed");
  });

  afterAll(async () => {
    await client?.auth.logout();
  });
});
