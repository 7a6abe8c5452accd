// Backoff with full jitter, the one implementation every retrying loop uses.
export interface BackoffOptions {
  /** First delay in ms (default 250). */
  baseMs?: number;
  /** Multiplier per attempt (default 2). */
  factor?: number;
  /** Upper bound in ms (default 30 000). */
  capMs?: number;
}

/** Delay before retry number `attempt` (1-based): uniform in [d/2, d] with d = min(cap, base·factor^(attempt-1)). */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random = Math.random): number {
  const base = opts.baseMs ?? 250;
  const factor = opts.factor ?? 2;
  const cap = opts.capMs ?? 30_000;
  const d = Math.min(cap, base * Math.pow(factor, Math.max(0, attempt - 1)));
  return Math.round(d / 2 + random() * (d / 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
