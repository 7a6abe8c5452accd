// Typing indicators, throttled: at most one `typing` frame per thread per interval, however often
// the application calls it (on every keystroke, typically). The server limits typing to 5/s per
// user and answers more with `error` `rate_limited`.

export class TypingThrottle {
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  /** Whether a `typing` frame for this thread should go out now (then it counts as sent). */
  shouldSend(threadId: string): boolean {
    const t = this.now();
    const last = this.lastSent.get(threadId);
    if (last !== undefined && t - last < this.intervalMs) return false;
    this.lastSent.set(threadId, t);
    if (this.lastSent.size > 1000) for (const [k, v] of this.lastSent) if (t - v >= this.intervalMs) this.lastSent.delete(k);
    return true;
  }
}
