// Bounded visits of the tenant list by a background loop (claims, lag gauges, trims, due sweeps), so
// that the cost of a tick follows the traffic, not the number of tenants (issue 12, move 6). Tenants
// with recent activity are visited every tick; the others round-robin, at most `perTick` of them per
// tick: an idle tenant is still visited once every ceil(idle tenants / perTick) ticks, the backstop
// for lost hints and for entries a crashed consumer left behind. With fewer tenants than `perTick`
// every tenant is visited every tick, as before.

/** Idle tenants visited per tick by each loop unless it says otherwise. */
export const SWEEP_PER_TICK = 10;

export class TenantSweep {
  private cursor = 0;

  constructor(private readonly perTick: number = SWEEP_PER_TICK) {}

  /** The tenants to visit this tick: the active ones that are still served, then the next idle ones. */
  next(all: readonly string[], active: ReadonlySet<string> = new Set()): string[] {
    const out: string[] = [];
    if (active.size) {
      const served = new Set(all);
      for (const t of active) if (served.has(t)) out.push(t);
    }
    const n = all.length;
    if (!n) return out;
    if (this.cursor >= n) this.cursor = 0;
    let taken = 0;
    let scanned = 0;
    while (scanned < n && taken < this.perTick) {
      const t = all[(this.cursor + scanned) % n] as string;
      scanned++;
      if (active.has(t)) continue;
      out.push(t);
      taken++;
    }
    this.cursor = (this.cursor + scanned) % n;
    return out;
  }
}
