// The publishing side: applies heartbeats, connects and disconnects to the state in Redis and
// publishes what presence-apply.lua says to publish. Changes held back by the per-user coalescing
// window get a timer here that publishes the then-latest state when the window ends; should this
// gateway die first, the next heartbeat of that user on any gateway publishes it instead (the
// script publishes whenever the state is newer than the last published version and the window is over).
import type { Config } from '../../config/index.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { metrics } from '../../core/metrics.js';
import { applyPresence, publishUpdate, registerPresenceTenant, type Decision, type Op } from './store.js';
import type { PresenceUpdate } from './status.js';

/** Added to a coalescing deadline so that the flush lands after the window on the Redis clock. */
const DEADLINE_SLACK_MS = 5;

export class Publisher {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** When this process last recorded each tenant's activity in the sweepers' registry. */
  private readonly registered = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly log: Logger,
  ) {}

  /** Applies one state change of a user and publishes (or schedules) what it calls for. */
  async apply(tenantId: string, userId: string, op: Op): Promise<Decision> {
    const now = Date.now();
    // Refreshed at most every third of a TTL: sweepers visit tenants active within TTL + a margin.
    if (now - (this.registered.get(tenantId) ?? 0) > this.config.presence.ttlMs / 3) {
      this.registered.set(tenantId, now);
      this.track(registerPresenceTenant(this.redis, tenantId, now)).catch((err: unknown) => {
        this.registered.delete(tenantId);
        this.log.warn({ err, tenant_id: tenantId }, 'presence tenant registration failed');
      });
    }
    const d = await this.track(applyPresence(this.redis, this.config, tenantId, userId, op));
    await this.handle(tenantId, d, op.op === 'flush' ? 'coalesced' : op.op === 'expire' ? 'expired' : 'immediate');
    return d;
  }

  /** Publishes one update behind the idempotency key (false when it was a duplicate). */
  publish(tenantId: string, u: PresenceUpdate, reason: 'immediate' | 'coalesced' | 'expired'): Promise<boolean> {
    return this.track(publishUpdate(this.redis, this.config, tenantId, u, reason));
  }

  /** Waits for the state changes and publishes under way (shutdown: before Redis is disconnected). */
  async stop(timeoutMs = 3000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const all = Promise.allSettled([...this.inflight]);
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private async handle(tenantId: string, d: Decision, reason: 'immediate' | 'coalesced' | 'expired'): Promise<void> {
    if (d.kind === 'publish') await this.publish(tenantId, d.update, reason);
    else if (d.kind === 'deferred') {
      metrics.presenceCoalesced.inc();
      this.schedule(tenantId, d.update.userId, d.waitMs);
    }
  }

  private schedule(tenantId: string, userId: string, waitMs: number): void {
    const key = `${tenantId}\u0000${userId}`;
    if (this.stopped || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.apply(tenantId, userId, { op: 'flush' }).catch((err: unknown) => {
        // The user's next heartbeat (any gateway) publishes it; subscribers' reconcile repairs meanwhile.
        this.log.warn({ err, tenant_id: tenantId, user_id: userId }, 'coalesced presence publish failed');
      });
    }, waitMs + DEADLINE_SLACK_MS);
    timer.unref();
    this.timers.set(key, timer);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }
}
