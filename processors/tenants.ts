// Tenant discovery for one consumer group: the `chorus:tenants` set, polled, plus its pub/sub
// channel for immediacy. A tenant is listed only once its group exists (created from '0', so the
// entries written before discovery are delivered too).
import type { Config } from '../config/index.js';
import { keys } from '../core/keys.js';
import { isId } from '../core/ids.js';
import { createRedis, type RedisClient } from '../core/redis.js';
import { ensureGroup, type StreamKeyOf } from '../core/stream-commands.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import type { Logger } from '../core/logger.js';

export interface TenantDirectoryOptions {
  config: Config;
  /** Shared non-blocking connection. */
  redis: RedisClient;
  group: string;
  log: Logger;
  /** Restricts the tenants served (tests use it to stay off other tests' tenants). */
  accept?: (tenantId: string) => boolean;
  /** The stream the group reads per tenant (default keys.events): its group is created there. */
  stream?: StreamKeyOf;
}

/**
 * How long a tenant counts as active after its last read or claim: longer than the claim idle time,
 * so that an entry that failed is taken over on the next claim tick rather than by the idle sweep.
 */
export const ACTIVE_WINDOW_MS = 60_000;

export class TenantDirectory {
  private readonly activity = new Map<string, number>();
  /** Insertion-ordered: runners key their read lanes by the first tenant of a slot group. */
  private readonly ready = new Set<string>();
  private readonly admitting = new Map<string, Promise<void>>();
  private readonly listeners = new Set<() => void>();
  private readonly abort = new AbortController();
  private subscriber?: RedisClient;
  private polling?: Promise<void>;

  constructor(private readonly opts: TenantDirectoryOptions) {}

  /** Resolves after the first poll (successful or logged), so runners start with the known tenants. */
  async start(): Promise<void> {
    const { config, group, log } = this.opts;
    const sub = createRedis(config, { name: `processor:${group}:tenants`, blocking: true });
    this.subscriber = sub;
    sub.on('error', (err) => log.warn({ err, group }, 'tenant subscription connection error'));
    sub.on('message', (_channel: string, tenantId: string) => {
      this.admit(tenantId).catch((err) => log.warn({ err, group, tenant_id: tenantId }, 'tenant admission failed; the poll retries'));
    });
    // ioredis resubscribes after a reconnect; a failed first subscribe is covered by the poll.
    sub.subscribe(keys.tenantsChannel()).catch((err) => log.warn({ err, group }, 'tenant channel subscribe failed'));
    await this.refresh().catch((err) => log.warn({ err, group }, 'initial tenant poll failed'));
    this.polling = this.poll();
  }

  tenants(): string[] {
    return [...this.ready];
  }

  /** Marks a tenant as having traffic now: runners call it for each tenant they read or claim from. */
  touch(tenantId: string, now = Date.now()): void {
    this.activity.set(tenantId, now);
  }

  /**
   * The tenants touched within the last ACTIVE_WINDOW_MS (older marks are forgotten): the ones that
   * background loops visit every tick, while the idle rest is swept a bounded slice at a time.
   */
  active(now = Date.now()): Set<string> {
    const out = new Set<string>();
    for (const [t, at] of this.activity) {
      if (now - at > ACTIVE_WINDOW_MS) this.activity.delete(t);
      else out.add(t);
    }
    return out;
  }

  /** Calls `fn` whenever the tenant list changes; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * After NOGROUP on a tenant (stream deleted, group destroyed): recreate its group if the tenant is
   * still registered, or stop serving it, so that one tenant cannot break the reads of the others.
   */
  async repair(tenantId: string): Promise<void> {
    const { redis, group, log } = this.opts;
    if (await redis.sismember(keys.tenants(), tenantId)) {
      await ensureGroup(redis, tenantId, group, '0', this.opts.stream);
      log.warn({ group, tenant_id: tenantId }, 'consumer group was missing; recreated');
    } else if (this.ready.delete(tenantId)) {
      log.warn({ group, tenant_id: tenantId }, 'tenant no longer registered; no longer served');
      this.changed();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.subscriber?.disconnect();
    await this.polling;
  }

  private async poll(): Promise<void> {
    const { config, group, log } = this.opts;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      let wait = config.processors.tenantPollMs;
      try {
        await this.refresh();
        attempt = 0;
      } catch (err) {
        attempt++;
        wait = Math.max(wait, backoffDelay(attempt));
        log.warn({ err, group, attempt }, 'tenant poll failed; backing off');
      }
      await sleep(wait, this.abort.signal);
    }
  }

  /** Registry size at the last full read: the set only grows, so an unchanged SCARD means nothing new. */
  private lastCount = -1;

  private async refresh(): Promise<void> {
    // SCARD is O(1); SMEMBERS of a thousand ids every poll of every group was most of an idle
    // stack's tenant-discovery cost. A full read still happens whenever the size moved.
    const count = await this.opts.redis.scard(keys.tenants());
    if (count === this.lastCount && this.admitting.size === 0) return;
    const members = await this.opts.redis.smembers(keys.tenants());
    await Promise.all(members.map((t) => this.admit(t)));
    this.lastCount = members.length;
  }

  private admit(tenantId: string): Promise<void> {
    if (this.ready.has(tenantId) || !isId(tenantId) || (this.opts.accept && !this.opts.accept(tenantId))) {
      return Promise.resolve();
    }
    let p = this.admitting.get(tenantId);
    if (!p) {
      p = ensureGroup(this.opts.redis, tenantId, this.opts.group, '0', this.opts.stream)
        .then(() => {
          this.ready.add(tenantId);
          this.opts.log.info({ group: this.opts.group, tenant_id: tenantId }, 'tenant discovered');
          this.changed();
        })
        .finally(() => this.admitting.delete(tenantId));
      this.admitting.set(tenantId, p);
    }
    return p;
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
