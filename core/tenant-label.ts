// The bounded `tenant` label of metrics (seed 7.1, issue 16 item 2): the top N tenants by traffic
// over a sliding window keep their id, every other tenant is `other`. A metric with a raw tenant
// label would grow a series per tenant ever seen; this one has at most N + 1 per label set.
//
// The window is two halves: every half window the ranking is recomputed from the traffic of the
// last two halves, and the tenants that fell out are forgotten (their series removed, so a scrape
// never carries more than N + 1 tenant values). Until N tenants are ranked, a new tenant takes a
// free place at once, so a quiet stack shows real ids from its first request.
//
// The hot path is one Map increment and one Set lookup; `TenantChildren` keeps the metric children
// per label so callers never hash label values per event.

export const OTHER_TENANT = 'other';

export class TenantLabels {
  /** Bumped whenever a tenant enters or leaves the top: cached label children are stale then. */
  generation = 0;
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private readonly top = new Set<string>();
  private readonly evictListeners: ((tenants: string[]) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private topN = 20) {}

  /** Counts `n` units of traffic of `tenant` and returns its label: its id while in the top N, else `other`. */
  label(tenant: string, n = 1): string {
    if (tenant === OTHER_TENANT) return OTHER_TENANT; // a tenant named `other` shares the bucket
    this.current.set(tenant, (this.current.get(tenant) ?? 0) + n);
    if (this.top.has(tenant)) return tenant;
    if (this.top.size < this.topN) {
      this.top.add(tenant);
      this.generation++;
      return tenant;
    }
    return OTHER_TENANT;
  }

  /** The label of `tenant` without counting traffic (for values that are not traffic, e.g. lag). */
  peek(tenant: string): string {
    return this.top.has(tenant) ? tenant : OTHER_TENANT;
  }

  /** Called with the tenants that left the top, after each ranking that removed some. */
  onEvict(fn: (tenants: string[]) => void): void {
    this.evictListeners.push(fn);
  }

  /** Recomputes the top from the last two half windows and starts a new half window. */
  rank(): void {
    const totals = new Map(this.previous);
    for (const [t, n] of this.current) totals.set(t, (totals.get(t) ?? 0) + n);
    this.previous = this.current;
    this.current = new Map();
    const next = new Set([...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, this.topN).map(([t]) => t));
    const evicted = [...this.top].filter((t) => !next.has(t));
    const added = [...next].some((t) => !this.top.has(t));
    if (!evicted.length && !added) return;
    this.top.clear();
    for (const t of next) this.top.add(t);
    this.generation++;
    if (evicted.length) for (const fn of this.evictListeners) fn(evicted);
  }

  /** Sets N and ranks every half window (an unref'd timer: it never keeps a process alive). */
  start(o: { top: number; windowMs: number }): void {
    this.topN = o.top;
    while (this.top.size > this.topN) this.top.delete([...this.top].pop() as string);
    clearInterval(this.timer);
    this.timer = setInterval(() => this.rank(), Math.max(1000, o.windowMs / 2));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The ranking of this process, shared by every metric with a `tenant` label. */
export const tenantLabels = new TenantLabels();

/**
 * Metric children by tenant label, built once per label and dropped when the ranking changes:
 * `get(tenant)` counts the traffic and returns the child to `inc`/`observe` on.
 */
export class TenantChildren<C> {
  private children = new Map<string, C>();
  private generation = -1;

  constructor(private readonly make: (tenantLabel: string) => C, private readonly labels: TenantLabels = tenantLabels) {}

  get(tenant: string, n = 1): C {
    const label = this.labels.label(tenant, n);
    if (this.generation !== this.labels.generation) {
      this.children = new Map();
      this.generation = this.labels.generation;
    }
    let child = this.children.get(label);
    if (!child) this.children.set(label, (child = this.make(label)));
    return child;
  }
}
