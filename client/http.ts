// HTTP to the Chorus API over `fetch` (browsers, Node 18+), with the contract's retry rules:
// - 429 and 503 carry `Retry-After`: wait that long (or the backoff), then retry;
// - network errors and other 5xx are retried only for idempotent requests (GET, PUT, DELETE, a read
//   mark, a message with `clientMessageId`): a write answered so may still have landed;
// - 401: the token is invalidated and the request tried once more with a new one.

import { backoffDelay, retryAfterMs, sleep, type BackoffOptions } from './backoff.js';
import type { TokenSource } from './token.js';

/** An error answer of the API: `{"error":{"code","message","details"?}}` and its status. */
export class ChorusApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ChorusApiError';
  }
}

export interface HttpOptions {
  /** The API's origin, e.g. `https://chat.example.com` (no trailing `/api`). */
  baseUrl: string;
  /** `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  backoff?: BackoffOptions;
  /** Longest `Retry-After` honoured before giving up (default 60 s). */
  maxRetryAfterMs?: number;
}

export interface CallOptions {
  body?: unknown;
  /** Safe to repeat after a network error or 5xx (default: GET/PUT/DELETE). */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export class HttpClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly o: HttpOptions, private readonly tokens: TokenSource) {
    const f = o.fetch ?? globalThis.fetch;
    if (!f) throw new Error('no fetch available: pass `fetch` in the options');
    this.fetch = f.bind(globalThis);
  }

  /** The `fetch` in use (uploads to signed URLs go through it too). */
  get fetchImpl(): typeof fetch { return this.fetch; }

  async call<T>(method: string, path: string, c: CallOptions = {}): Promise<T> {
    const idempotent = c.idempotent ?? ['GET', 'PUT', 'DELETE'].includes(method);
    const maxRetries = this.o.maxRetries ?? 5;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokens.get();
      const retry = (waitMs?: number) => {
        if (attempt >= maxRetries || c.signal?.aborted) return false;
        const ms = waitMs ?? backoffDelay(attempt, this.o.backoff);
        return ms <= (this.o.maxRetryAfterMs ?? 60_000) ? ms : false;
      };
      let res: Response;
      try {
        res = await this.fetch(new URL(path, this.o.baseUrl), {
          method,
          headers: { authorization: `Bearer ${token}`, ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: c.body !== undefined ? JSON.stringify(c.body) : undefined,
          signal: c.signal,
        });
      } catch (err) {
        const wait = idempotent ? retry() : false;
        if (wait === false) throw err;
        await sleep(wait, c.signal);
        continue;
      }
      if (res.ok) {
        const text = await res.text();
        return (text ? JSON.parse(text) : undefined) as T;
      }
      const err = await toError(res);
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        this.tokens.invalidate(token);
        continue;
      }
      const after = retryAfterMs(res.headers.get('retry-after'));
      // 429 means the request was not taken: always safe to repeat.
      const retryable = res.status === 429 || (res.status >= 500 && idempotent);
      const wait = retryable ? retry(after) : false;
      if (wait === false) throw err;
      await sleep(wait, c.signal);
    }
  }
}

/** Bytes for an upload: what `fetch` takes as a body in browsers and Node alike. */
export type UploadBody = Blob | ArrayBuffer | Uint8Array;

export interface PutOptions { maxRetries?: number; backoff?: BackoffOptions; signal?: AbortSignal }

/**
 * PUTs bytes to a signed URL (no token: the URL is the authority), retrying network errors, 5xx
 * and 429 (a PUT of the same bytes is idempotent).
 */
export async function putBytes(f: typeof fetch, url: string, headers: Record<string, string>, body: UploadBody, o: PutOptions = {}): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const last = attempt >= (o.maxRetries ?? 5);
    let res: Response;
    try {
      res = await f(url, { method: 'PUT', headers, body: body as BodyInit, signal: o.signal });
    } catch (err) {
      if (last) throw err;
      await sleep(backoffDelay(attempt, o.backoff), o.signal);
      continue;
    }
    if (res.ok) {
      await res.arrayBuffer();
      return;
    }
    const err = await toError(res);
    if (last || !(res.status === 429 || res.status >= 500)) throw err;
    await sleep(retryAfterMs(res.headers.get('retry-after')) ?? backoffDelay(attempt, o.backoff), o.signal);
  }
}

async function toError(res: Response): Promise<ChorusApiError> {
  let body: { error?: { code?: string; message?: string; details?: unknown } } | undefined;
  try {
    body = await res.json() as typeof body;
  } catch {
    body = undefined; // not JSON (a proxy's page): the status says enough
  }
  const e = body?.error;
  return new ChorusApiError(res.status, e?.code ?? 'http_error', e?.message ?? res.statusText, e?.details);
}
