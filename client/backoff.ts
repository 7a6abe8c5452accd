// Reconnect and retry delays: capped exponential backoff with full jitter (a uniformly random delay
// between 0 and min(cap, base · 2^attempt)), so that many clients dropped at once do not come back
// in step. Pure: the random source is a parameter for tests.

export interface BackoffOptions {
  /** Delay scale of the first retry, in ms (default 250). */
  baseMs?: number;
  /** Largest delay, in ms (default 30 000). */
  capMs?: number;
}

export const BACKOFF_DEFAULTS: Required<BackoffOptions> = { baseMs: 250, capMs: 30_000 };

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseMs, capMs } = { ...BACKOFF_DEFAULTS, ...o };
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** `Retry-After` in seconds (or an HTTP date) as ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal?.aborted) return resolve();
  const timer = setTimeout(done, ms);
  function done() {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  }
  signal?.addEventListener('abort', done);
});
