/** What the suite shares: the running platform's address, and registering through it. */
import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";

import { Client } from "../src/index.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run this suite through tests/sdk/ts/test_typescript_sdk.py, ` +
        "which starts the platform",
    );
  }
  return value;
}

export const baseUrl = required("SDK_TEST_BASE_URL");
export const PASSWORD = "correct-horse-battery-staple";

export function uniqueEmail(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}@example.com`;
}

export function uniqueSubdomain(label: string): string {
  return `${label}${randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

interface MailEntry {
  to: string[];
  subject: string;
  token: string;
}

/** The token of the latest mail to `email` (the test's SMTP server copies them to a file). */
export async function mailedToken(email: string, timeoutMs = 60_000): Promise<string> {
  const inbox = required("SDK_TEST_INBOX");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const entries = JSON.parse(await readFile(inbox, "utf8")) as MailEntry[];
    const found = entries.filter((entry) =>
      entry.to.some((to) => to.toLowerCase() === email.toLowerCase()),
    );
    const latest = found.at(-1);
    if (latest) return latest.token;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`No mail to ${email} within ${String(timeoutMs)} ms`);
}

/** Register `email` and verify it, all through the SDK; a logged-in client for it. */
export async function registeredClient(
  label: string,
): Promise<{ client: Client; email: string }> {
  const email = uniqueEmail(label);
  const anonymous = new Client({ baseUrl });
  await anonymous.auth.register({ email, password: PASSWORD, full_name: `SDK ${label}` });
  await anonymous.auth.verifyEmail(await mailedToken(email));
  return { client: new Client({ baseUrl, email, password: PASSWORD }), email };
}

/** Wait until `condition()` holds, looking every 50 ms. */
export async function until(condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Not true within ${String(timeoutMs)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
