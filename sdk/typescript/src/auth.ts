/**
 * Credentials: an API key as it is, or a login session that keeps its access token fresh.
 *
 * The platform rotates the refresh token on every use and revokes the whole session when a
 * rotated token is used again, so only one refresh may be in flight: concurrent requests
 * that find the token expiring wait for the same renewal.
 */
import { errorFromResponse } from "./errors.js";
import type { Credentials, Transport } from "./transport.js";

/** The tokens of a session, as `POST /api/v1/auth/login` and `/auth/refresh` answer them. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

// Renew this long before the access token expires, so no request carries one that lapses
// on the way.
const RENEW_MARGIN_MS = 30_000;

export class ApiKeyCredentials implements Credentials {
  constructor(private readonly apiKey: string) {}

  headers(): Promise<Record<string, string>> {
    return Promise.resolve({ Authorization: `Bearer ${this.apiKey}` });
  }

  renew(): Promise<boolean> {
    return Promise.resolve(false); // a refused key stays refused
  }
}

export interface SessionOptions {
  email?: string | undefined;
  password?: string | undefined;
  /** Tokens kept from an earlier session (e.g. in the browser's storage). */
  tokens?: Tokens | undefined;
  /** Told of every new pair of tokens, to keep them; null when the session ended. */
  onTokens?: ((tokens: Tokens | null) => void) | undefined;
}

export class SessionCredentials implements Credentials {
  private tokens: Tokens | undefined;
  private renewal: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly options: SessionOptions,
  ) {
    this.tokens = options.tokens;
  }

  get current(): Tokens | undefined {
    return this.tokens;
  }

  async headers(): Promise<Record<string, string>> {
    if (this.tokens === undefined || Date.now() > this.tokens.expiresAt - RENEW_MARGIN_MS) {
      await this.renewOnce();
    }
    return { Authorization: `Bearer ${this.tokens!.accessToken}` };
  }

  async renew(sentHeaders: Record<string, string>): Promise<boolean> {
    // Another request renewed the token since this one was sent: just send it again.
    if (this.tokens && sentHeaders.Authorization !== `Bearer ${this.tokens.accessToken}`) {
      return true;
    }
    try {
      await this.renewOnce();
      return true;
    } catch {
      return false;
    }
  }

  /** Log in with the email and password (also what the first request does by itself). */
  async login(): Promise<Tokens> {
    const { email, password } = this.options;
    if (email === undefined || password === undefined) {
      throw new Error("This client has no email and password to log in with");
    }
    await this.exchange("/api/v1/auth/login", { email, password });
    return this.tokens!;
  }

  /** End the session on the platform (its refresh token is revoked). */
  async logout(): Promise<void> {
    if (this.tokens === undefined) return;
    const headers = await this.headers();
    const response = await this.transport.send(
      new Request(this.transport.url("/api/v1/auth/logout"), {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: this.tokens.refreshToken }),
      }),
      { authenticate: false },
    );
    this.setTokens(undefined);
    if (!response.ok && response.status !== 401) {
      throw errorFromResponse(response, await response.json().catch(() => undefined));
    }
  }

  private renewOnce(): Promise<void> {
    this.renewal ??= this.refreshOrLogin().finally(() => {
      this.renewal = undefined;
    });
    return this.renewal;
  }

  private async refreshOrLogin(): Promise<void> {
    if (this.tokens !== undefined) {
      try {
        await this.exchange("/api/v1/auth/refresh", { refresh_token: this.tokens.refreshToken });
        return;
      } catch (error) {
        // The session was revoked or expired: start a new one when we can.
        this.setTokens(undefined);
        if (this.options.email === undefined) throw error;
      }
    }
    await this.login();
  }

  private async exchange(path: string, body: Record<string, string>): Promise<void> {
    const response = await this.transport.send(
      new Request(this.transport.url(path), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      }),
      { authenticate: false },
    );
    const answer: unknown = await response.json().catch(() => undefined);
    if (!response.ok) throw errorFromResponse(response, answer);
    const pair = answer as TokenAnswer;
    this.setTokens({
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      expiresAt: Date.now() + pair.expires_in * 1000,
    });
  }

  private setTokens(tokens: Tokens | undefined): void {
    this.tokens = tokens;
    this.options.onTokens?.(tokens ?? null);
  }
}
