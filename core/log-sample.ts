// Sampling of noisy success logs (seed 7.2): a websocket connect, a disconnect, a dropped
// best-effort event, a processed batch happen thousands of times a second; one line in N of each
// kind is written, and says how many it stands for (`sampled_1_in`). Failures and security events
// (auth failures, refused upgrades, forged signatures, foreign threads) never go through here: they
// are always written.

export class LogSampler {
  private readonly seen = new Map<string, number>();

  constructor(private every = 100) {}

  /** Sets N (CHORUS_LOG_SAMPLE): 1 writes every line, 0 none. */
  configure(every: number): void {
    this.every = every;
  }

  /** True for the first line of `kind` and then one in N; the caller writes the line only then. */
  take(kind: string): boolean {
    if (this.every <= 0) return false;
    if (this.every === 1) return true;
    const n = this.seen.get(kind) ?? 0;
    this.seen.set(kind, n + 1 >= this.every ? 0 : n + 1);
    return n === 0;
  }

  /** The field a sampled line carries: how many events it stands for. */
  get rate(): number {
    return this.every;
  }
}

/** The sampler of this process (configured by the entry point). */
export const logSampler = new LogSampler();
