// Timestamps shared by every process of a run. process.hrtime reads CLOCK_MONOTONIC, which is
// system-wide on Linux: a value stamped by the coordinator or one generator is comparable with a
// value read in another process on the same machine, and it never jumps with NTP like Date.now().
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Sleeps until the monotonic clock reaches `us` (returns at once when it already has). */
export function sleepUntilUs(us: number): Promise<void> {
  return sleepMs((us - nowUs()) / 1000);
}
