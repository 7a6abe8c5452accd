// The bearer token, from the application's provider. It is asked again when the token is about to
// expire (its `exp` claim, read without verifying: the server verifies), when the server refused it
// (HTTP 401, an auth close code, a refused upgrade) and never more often than needed: concurrent
// callers share one pending call.

/** Returns a fresh token (e.g. from your auth server). Called again on expiry and on refusal. */
export type TokenProvider = () => string | Promise<string>;

/** Seconds before `exp` at which a token counts as expired (clock skew, request time). */
const EXPIRY_MARGIN_MS = 30_000;

function expiryMs(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined; // not a JWT we can read: only a refusal makes us ask again
  }
}

export class TokenSource {
  private current: { token: string; expiresAt?: number } | undefined;
  private pending: Promise<string> | undefined;
  /** How many times the provider was called (tests, diagnostics). */
  calls = 0;

  constructor(private readonly provider: TokenProvider, private readonly now: () => number = Date.now) {}

  /** A token believed valid: the cached one unless expired, or `invalidate`d. */
  async get(): Promise<string> {
    const c = this.current;
    if (c && (c.expiresAt === undefined || c.expiresAt - EXPIRY_MARGIN_MS > this.now())) return c.token;
    if (!this.pending) {
      this.calls++;
      this.pending = Promise.resolve()
        .then(() => this.provider())
        .then((token) => {
          this.current = { token, expiresAt: expiryMs(token) };
          return token;
        })
        .finally(() => { this.pending = undefined; });
    }
    return this.pending;
  }

  /** The server refused `token`: the next `get` asks the provider (unless a newer token is already here). */
  invalidate(token?: string): void {
    if (token === undefined || this.current?.token === token) this.current = undefined;
  }
}
