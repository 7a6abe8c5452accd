// The typing fanout budget, kept per tenant: a tenant whose typing frames fan out to more than
// `perSecond` connections of this gateway within one second has typing suspended for `suspendMs`,
// and only that tenant. One noisy tenant must never switch typing off for its neighbours (the
// global kill switch is the `typing` flag of core/flags.ts, not this).

interface Window {
  start: number;
  count: number;
  suspendedUntil: number;
}

export class TypingBudget {
  private tenants = new Map<string, Window>();

  constructor(
    private readonly perSecond: number,
    private readonly suspendMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** False while the tenant is suspended on this gateway. */
  allows(tenantId: string): boolean {
    const w = this.tenants.get(tenantId);
    return !w || w.suspendedUntil <= this.now();
  }

  /**
   * Counts `n` more typing frames fanned out for the tenant. Returns true when this pushed the
   * tenant over its budget: it is suspended from now on (the caller logs and stops its fanout).
   */
  spend(tenantId: string, n = 1): boolean {
    const now = this.now();
    let w = this.tenants.get(tenantId);
    if (!w) this.tenants.set(tenantId, (w = { start: now, count: 0, suspendedUntil: 0 }));
    if (now - w.start >= 1000) {
      w.start = now;
      w.count = 0;
    }
    w.count += n;
    if (w.count <= this.perSecond) return false;
    w.suspendedUntil = now + this.suspendMs;
    w.count = 0;
    return true;
  }

  /** Forgets a tenant this gateway no longer hosts; a suspension runs its course (reconnecting does not lift it). */
  forget(tenantId: string): void {
    if (this.allows(tenantId)) this.tenants.delete(tenantId);
  }
}
