/**
 * The scenario every SDK runs (issue 18): register, verify, log in; create a tenant and wait
 * for it to be ready from the event stream; back it up; list with paging. Then what the
 * client does by itself: token refresh, API keys, typed errors, the 429 backoff.
 */
import { afterAll, describe, expect, it } from "vitest";

import {
  Client,
  collect,
  EmailTakenError,
  ForbiddenError,
  TenantNotFoundError,
  UnauthorizedError,
  ValidationError,
  type PlatformEvent,
  type RetryInfo,
  type Tenant,
} from "../src/index.js";
import {
  baseUrl,
  mailedToken,
  PASSWORD,
  uniqueEmail,
  uniqueSubdomain,
  until,
} from "./platform.js";

/** The body of an event stream, ended after the first chunk that carries an event. */
function cutAfterFirstEvent(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      if (/^id:/m.test(decoder.decode(value, { stream: true }))) {
        await reader.cancel();
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

describe("the journey", () => {
  const email = uniqueEmail("journey");
  let client: Client;
  let tenant: Tenant;
  let stopShared: (() => void) | undefined;

  afterAll(() => stopShared?.());

  it("registers, verifies the email and logs in", async () => {
    const anonymous = new Client({ baseUrl });
    const registered = await anonymous.auth.register({
      email,
      password: PASSWORD,
      full_name: "Journey Tester",
    });
    expect(registered.email).toBe(email);
    await expect(
      anonymous.auth.register({ email, password: PASSWORD, full_name: "Again" }),
    ).rejects.toBeInstanceOf(EmailTakenError);

    await anonymous.auth.verifyEmail(await mailedToken(email));

    const kept: unknown[] = [];
    client = new Client({ baseUrl, email, password: PASSWORD, onTokens: (t) => kept.push(t) });
    const me = await client.auth.me(); // logs in by itself on the first call
    expect(me.email).toBe(email);
    expect(me.email_verified).toBe(true);
    expect(kept).toHaveLength(1);
    expect(client.auth.tokens?.accessToken).toMatch(/^ey/);
  });

  it("creates a tenant and learns from the event stream that it is ready", async () => {
    const seen: PlatformEvent[] = [];
    const listening = new Promise<void>((resolve) => {
      stopShared = client.events.subscribe((event) => seen.push(event), resolve);
    });

    // A second stream, on an API key, whose connection is cut after every message that
    // carries events: it must reconnect with Last-Event-ID and miss nothing, even what
    // happened while it was away.
    const key = await client.apiKeys.create({ name: "stream", scopes: ["events:read"] });
    const sentLastEventIds: (string | null)[] = [];
    const flaky = new Client({
      baseUrl,
      apiKey: key.key,
      fetch: async (request) => {
        const response = await fetch(request);
        if (!request.url.includes("/events/stream") || !response.body) return response;
        sentLastEventIds.push(request.headers.get("Last-Event-ID"));
        return new Response(cutAfterFirstEvent(response.body), response);
      },
    });
    const flakySeen: PlatformEvent[] = [];
    const stopFlaky = new AbortController();
    let flakyReady!: () => void;
    const flakyListening = new Promise<void>((resolve) => (flakyReady = resolve));
    const flakyDone = (async () => {
      const stream = flaky.events.stream({
        signal: stopFlaky.signal,
        reconnectMs: 300,
        onReady: () => flakyReady(),
      });
      for await (const event of stream) flakySeen.push(event);
    })();
    await Promise.all([listening, flakyListening]);

    const subdomain = uniqueSubdomain("journey");
    const created = await client.tenants.create({ name: "Journey Co", subdomain });
    expect(created.status).toBe("provisioning");
    tenant = await client.tenants.waitUntilReady(created.id, { timeoutMs: 240_000 });
    expect(tenant.status).toBe("ready");
    expect(tenant.instance?.status).toBe("ready");

    const ofTenant = (events: PlatformEvent[]) =>
      events.filter((e) => e.data.tenant_id === created.id);
    await until(() => ofTenant(seen).some((e) => e.type === "tenant.ready"), 30_000);
    const types = ofTenant(seen).map((e) => e.type);
    expect(types[0]).toBe("tenant.created");
    expect(types).toContain("tenant.ready");
    const ids = seen.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    const expected = ofTenant(seen).map((e) => e.id);
    await until(() => ofTenant(flakySeen).length >= expected.length, 30_000);
    stopFlaky.abort();
    await flakyDone;
    expect(ofTenant(flakySeen).map((e) => e.id).slice(0, expected.length)).toEqual(expected);
    expect(new Set(flakySeen.map((e) => e.id)).size).toBe(flakySeen.length); // each once
    expect(sentLastEventIds.length).toBeGreaterThanOrEqual(2); // it was cut, and came back
    expect(sentLastEventIds[0]).toBeNull();
    // Each reconnection named the last event received before it.
    const received = new Set(flakySeen.map((e) => e.id));
    for (const sent of sentLastEventIds.slice(1)) expect(received.has(sent!)).toBe(true);
    await client.apiKeys.revoke(key.id);

    // What a reconnection after a longer absence gets: the events after the id it names.
    const replayed: PlatformEvent[] = [];
    const stopReplay = new AbortController();
    const giveUp = setTimeout(() => stopReplay.abort(), 30_000);
    const replay = client.events.stream({
      tenantId: created.id,
      lastEventId: expected[0],
      signal: stopReplay.signal,
    });
    for await (const event of replay) {
      replayed.push(event);
      if (replayed.length === expected.length - 1) stopReplay.abort();
    }
    clearTimeout(giveUp);
    expect(replayed.map((e) => e.id)).toEqual(expected.slice(1));
  });

  it("backs the tenant up and waits for the backup from the stream", async () => {
    const started = await client.backups.create(tenant.id, { reason: "SDK journey" });
    expect(["pending", "running"]).toContain(started.status);
    const backup = await client.backups.waitUntilCompleted(tenant.id, started.id, {
      timeoutMs: 240_000,
    });
    expect(backup.status).toBe("completed");
    const listed = await client.backups.list(tenant.id);
    expect(listed.results.map((b) => b.id)).toContain(started.id);
  });

  it("lists tenants page by page", async () => {
    for (const label of ["second", "third"]) {
      await client.tenants.create({ name: `Journey ${label}`, subdomain: uniqueSubdomain(label) });
    }
    const first = await client.tenants.list({ page_size: 2, ordering: "created_at" });
    expect(first.count).toBe(3);
    expect(first.results).toHaveLength(2);
    expect(first.next).toContain("page=2");
    const everything = await collect(client.tenants.iterate({ page_size: 2, ordering: "created_at" }));
    expect(everything.map((t) => t.id)).toHaveLength(3);
    expect(new Set(everything.map((t) => t.id)).size).toBe(3);
    expect(everything[0]?.id).toBe(tenant.id);
  });

  it("throws the error class of the envelope's code", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    const notFound = await client.tenants.get(missing).catch((error: unknown) => error);
    expect(notFound).toBeInstanceOf(TenantNotFoundError);
    expect(notFound).toMatchObject({ code: "TENANT_NOT_FOUND", status: 404 });
    expect((notFound as TenantNotFoundError).requestId).toBeTruthy();
    const invalid = await client.tenants
      .create({ name: "", subdomain: "x" })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).details).toHaveProperty("name");
  });

  it("refreshes the access token by itself", async () => {
    const tokens = client.auth.tokens!;
    // An access token that has expired: the client refreshes before sending.
    const expired = new Client({ baseUrl, tokens: { ...tokens, expiresAt: 0 } });
    expect((await expired.auth.me()).email).toBe(email);
    const refreshed = expired.auth.tokens!;
    expect(refreshed.refreshToken).not.toBe(tokens.refreshToken); // rotated

    // One the platform refuses (401): the client refreshes and sends the request again,
    // once for all the requests that were refused together.
    const renewals: unknown[] = [];
    const refused = new Client({
      baseUrl,
      tokens: { ...refreshed, accessToken: "not-a-token", expiresAt: Date.now() + 600_000 },
      onTokens: (t) => renewals.push(t),
    });
    const answers = await Promise.all([refused.auth.me(), refused.auth.me(), refused.tenants.list()]);
    expect(answers[0].email).toBe(email);
    // One refresh for the three: a second would reuse the rotated token and end the session.
    expect(renewals).toHaveLength(1);
    expect(refused.auth.tokens?.accessToken).not.toBe("not-a-token");

    // A session that was logged out cannot be refreshed; without a password it stays out.
    await refused.auth.logout();
    const loggedOut = new Client({
      baseUrl,
      tokens: { ...refused.auth.tokens!, expiresAt: 0 },
    });
    await expect(loggedOut.auth.me()).rejects.toThrow();
  });

  it("authenticates with an API key, within its scopes, until revoked", async () => {
    const created = await client.apiKeys.create({
      name: "sdk test",
      scopes: ["tenants:read", "events:read"],
    });
    expect(created.key).toMatch(/^saas_live_/);
    const keyClient = new Client({ baseUrl, apiKey: created.key });
    const listed = await keyClient.tenants.list();
    expect(listed.count).toBe(3);
    await expect(
      keyClient.tenants.create({ name: "Nope", subdomain: uniqueSubdomain("nope") }),
    ).rejects.toBeInstanceOf(ForbiddenError);

    const keys = await client.apiKeys.list();
    expect(keys.results.map((k) => k.id)).toContain(created.id);
    expect(JSON.stringify(keys)).not.toContain(created.key);
    await client.apiKeys.revoke(created.id);
    await expect(keyClient.tenants.list()).rejects.toBeInstanceOf(UnauthorizedError);

    // A key confined to one tenant sees that one; another's id is not found (404).
    const others = (await client.tenants.list()).results.filter((t) => t.id !== tenant.id);
    const confined = await client.apiKeys.create({
      name: "one tenant",
      scopes: ["tenants:read", "backups:read"],
      tenant_id: tenant.id,
    });
    const confinedClient = new Client({ baseUrl, apiKey: confined.key });
    const seen = await confinedClient.tenants.list();
    expect(seen.results.map((t) => t.id)).toEqual([tenant.id]);
    expect((await confinedClient.backups.list(tenant.id)).count).toBeGreaterThan(0);
    await expect(confinedClient.tenants.get(others[0]!.id)).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
    await client.apiKeys.revoke(confined.id);
  });
});

describe("the request queue", () => {
  it("waits out a 429 for its Retry-After and gets every answer", async () => {
    const limit = Number((process.env.SDK_TEST_ANONYMOUS_LIMIT ?? "10/second").split("/")[0]);
    const statuses: number[] = [];
    const retries: RetryInfo[] = [];
    const client = new Client({
      baseUrl,
      concurrency: 4,
      maxRetries: 10,
      onRetry: (info) => retries.push(info),
      fetch: async (request) => {
        const response = await fetch(request);
        statuses.push(response.status);
        return response;
      },
    });
    const count = limit * 3;
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: count }, () => client.api.GET("/api/v1/billing/plans")),
    );
    expect(answers.every((answer) => answer.response.status === 200)).toBe(true);
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((retry) => retry.status === 429 && retry.delayMs >= 1000)).toBe(true);
    // The queue held everyone back after a refusal: far fewer 429s than a client firing
    // blindly, which would meet one for every request beyond the budget.
    expect(statuses.filter((status) => status === 429).length).toBeLessThan(count - limit);
    // Three budgets' worth of requests cannot pass in less than two windows.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(client.transport.pending).toEqual({ queued: 0, running: 0 });
  });
});
