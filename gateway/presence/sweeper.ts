// Finds connections whose heartbeat TTL expired (a client that vanished, a gateway that died)
// without scanning users: each tenant keeps per-shard expiry zsets (user -> earliest connection
// expiry) and a due list of shards by their earliest expiry. Every round a gateway reads, per tenant, only the shards that are due, takes a
// short per-shard lease (SET NX PX) so that the gateways share the shards instead of racing, and
// expires the due users of the shards it holds. The same round evaluates shard load once per window.
import type { Config } from '../../config/index.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { metrics } from '../../core/metrics.js';
import { OTHER_TENANT, tenantLabels } from '../../core/tenant-label.js';
import { backoffDelay } from '../../core/backoff.js';
import { shardCount, shardLoad } from './status.js';
import { activePresenceTenants } from './store.js';
import type { Publisher } from './publisher.js';

/** Candidates read per page, and pages per shard per round (bounds one round's work). */
const SWEEP_PAGE = 200;
const MAX_PAGES = 50;
/** Tenants swept concurrently (autopipelined on one connection). */
const TENANT_CONCURRENCY = 32;
const TENANT_REFRESH_MS = 5_000;
/**
 * Tenants are visited while their last presence activity is at most TTL + this old: every
 * connection of a quieter tenant has expired and been swept long before.
 */
const TENANT_RETAIN_MS = 10 * 60_000;
const TENANT_FORGET_MS = 24 * 3600_000;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private failures = 0;
  private tenants: string[] = [];
  private tenantsAt = 0;
  private readonly nextLoadCheck = new Map<string, number>();
  private round: Promise<void> | null = null;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly publisher: Publisher,
    private readonly log: Logger,
    /** Names the lease holder (the gateway id). */
    private readonly owner: string,
  ) {}

  start(): void {
    this.running = true;
    this.schedule(this.config.presence.sweepIntervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
  }

  /** One full round over every tenant with presence state (exported for tests and tools). */
  async sweepOnce(): Promise<number> {
    const now = Date.now();
    // A new tenant must be known before its first connection can expire (one TTL after its first touch).
    if (now - this.tenantsAt > Math.min(TENANT_REFRESH_MS, this.config.presence.ttlMs / 3)) {
      this.tenants = await activePresenceTenants(this.redis, now - this.config.presence.ttlMs - TENANT_RETAIN_MS, now - TENANT_FORGET_MS);
      this.tenantsAt = now;
    }
    let expired = 0;
    for (let i = 0; i < this.tenants.length; i += TENANT_CONCURRENCY) {
      const slice = this.tenants.slice(i, i + TENANT_CONCURRENCY);
      const counts = await Promise.all(slice.map((t) => this.sweepTenant(t, now)));
      expired += counts.reduce((a, b) => a + b, 0);
    }
    return expired;
  }

  private schedule(baseMs: number): void {
    if (!this.running) return;
    // Jitter spreads the gateways' rounds, so that leases rotate between them.
    const delay = Math.round(baseMs * (0.75 + Math.random() * 0.5));
    this.timer = setTimeout(() => {
      this.round = this.sweepOnce().then(
        () => {
          this.failures = 0;
          this.schedule(this.config.presence.sweepIntervalMs);
        },
        (err: unknown) => {
          this.failures++;
          const backoff = backoffDelay(this.failures, { baseMs: this.config.presence.sweepIntervalMs, capMs: 30_000 });
          this.log.warn({ err, failures: this.failures, delay_ms: backoff }, 'presence sweep failed, backing off');
          this.schedule(backoff);
        },
      );
    }, delay);
    this.timer.unref();
  }

  private async sweepTenant(tenantId: string, now: number): Promise<number> {
    const [due] = await Promise.all([
      this.redis.zrangebyscore(keys.presenceDue(tenantId), '-inf', now, 'LIMIT', 0, shardCount(this.config, tenantId)),
      this.evaluateLoad(tenantId, now),
    ]);
    let expired = 0;
    for (const s of due) {
      const shard = Number(s);
      const lease = await this.redis.set(keys.presenceSweepLease(tenantId, shard), this.owner, 'PX', this.config.presence.sweepIntervalMs, 'NX');
      if (lease === null) continue; // another gateway sweeps this shard this round
      expired += await this.sweepShard(tenantId, shard, now);
    }
    return expired;
  }

  private async sweepShard(tenantId: string, shard: number, now: number): Promise<number> {
    let expired = 0;
    let previousFirst: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const users = await this.redis.zrangebyscore(keys.presenceExpiry(tenantId, shard), '-inf', now, 'LIMIT', 0, SWEEP_PAGE);
      // The same page again: this clock runs ahead of Redis's and those users are not due there yet.
      if (!users.length || users[0] === previousFirst) break;
      previousFirst = users[0];
      // One script per user (autopipelined): each re-checks on the Redis clock, since a heartbeat may
      // have arrived after the candidates were read.
      const decisions = await Promise.all(users.map((u) => this.publisher.apply(tenantId, u, { op: 'expire' })));
      const changed = decisions.filter((d) => d.kind !== 'none').length;
      expired += changed;
      metrics.presenceExpired.inc(changed);
      if (users.length < SWEEP_PAGE) break;
    }
    return expired;
  }

  /**
   * Once per load window, one gateway (the lease holder) turns the tenant's per-shard update
   * counts into p50/p95 and suggests a rebalance when p95 > 2 × p50.
   */
  private async evaluateLoad(tenantId: string, now: number): Promise<void> {
    const window = this.config.presence.loadWindowMs;
    if ((this.nextLoadCheck.get(tenantId) ?? 0) > now) return;
    this.nextLoadCheck.set(tenantId, now + window / 4);
    const lease = await this.redis.set(keys.presenceLoadLease(tenantId), this.owner, 'PX', window, 'NX');
    if (lease === null) return;
    const res = await this.redis.multi().hgetall(keys.presenceLoad(tenantId)).del(keys.presenceLoad(tenantId)).exec();
    const counts = (res?.[0]?.[1] ?? {}) as Record<string, string>;
    const shards = shardCount(this.config, tenantId);
    const load = shardLoad(counts, shards);
    // Per tenant only for this process's top tenants (core/tenant-label.ts): a gauge per tenant ever
    // seen would be unbounded, and `other` cannot hold several tenants' quantiles. The log names all.
    const tenant = tenantLabels.peek(tenantId);
    if (tenant !== OTHER_TENANT) {
      metrics.presenceShardLoad.set({ tenant, quantile: 'p50' }, load.p50);
      metrics.presenceShardLoad.set({ tenant, quantile: 'p95' }, load.p95);
      metrics.presenceShardLoad.set({ tenant, quantile: 'max' }, load.max);
    }
    if (load.rebalance) {
      metrics.presenceRebalanceSuggested.inc({ tenant });
      this.log.warn({ tenant_id: tenantId, shards, p50: load.p50, p95: load.p95, max: load.max, total: load.total, window_ms: window },
        'presence shard load is skewed (p95 > 2 × p50): consider more shards for this tenant (CHORUS_PRESENCE_SHARDS_BY_TENANT)');
    }
  }
}
