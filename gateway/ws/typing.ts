// Typing indicators: best-effort, never in the stream. A typing frame is published on the tenant's
// pub/sub channel; every gateway hosting that tenant fans it out to the thread's other participants.
// A runtime flag turns typing off for everyone; a gateway suspends it for a while for one tenant
// whose fanout on this gateway exceeds the per-tenant budget (typing-budget.ts), never for the others.
import type { Config } from '../../config/index.js';
import type { RedisClient } from '../../core/redis.js';
import { createRedis, isCluster } from '../../core/redis.js';
import type { Logger } from '../../core/logger.js';
import { keys } from '../../core/keys.js';
import { EVENT, controlFrame } from '../../core/events/index.js';
import type { Flags } from '../../core/flags.js';
import { metrics } from '../../core/metrics.js';
import { tenantLabels } from '../../core/tenant-label.js';
import type { Hub } from './hub.js';
import { TypingBudget } from './typing-budget.js';

const SUSPEND_MS = 30_000;

export class Typing {
  private sub: RedisClient;
  private readonly budget: TypingBudget;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly hub: Hub,
    private readonly flags: Flags,
    private readonly log: Logger,
  ) {
    this.budget = new TypingBudget(config.gateway.typingBudgetPerS, SUSPEND_MS);
    this.sub = createRedis(config, { name: 'gateway-typing', blocking: true });
    this.sub.on('error', (err) => this.log.warn({ err }, 'typing subscriber error'));
    const onMessage = (channel: string, message: string) => this.onMessage(channel, message);
    this.sub.on(isCluster(this.sub) ? 'smessage' : 'message', onMessage);
  }

  /** Typing is on (the global flag) and the tenant is not suspended on this gateway for going over its budget. */
  enabled(tenantId: string): boolean {
    return this.disabledReason(tenantId) === null;
  }

  /** Why a tenant's `typing` frames are refused with `feature_disabled` right now, or null. */
  disabledReason(tenantId: string): string | null {
    if (!this.flags.enabled('typing')) return 'typing indicators are switched off';
    if (!this.budget.allows(tenantId)) return 'typing is suspended for this tenant for a while: its typing fanout exceeded the budget';
    return null;
  }

  tenantHosted(tenantId: string, hosted: boolean): void {
    const ch = keys.typingChannel(tenantId);
    const r = this.sub as unknown as { ssubscribe(c: string): Promise<unknown>; sunsubscribe(c: string): Promise<unknown>; subscribe(c: string): Promise<unknown>; unsubscribe(c: string): Promise<unknown> };
    const op = isCluster(this.sub) ? (hosted ? r.ssubscribe(ch) : r.sunsubscribe(ch)) : hosted ? r.subscribe(ch) : r.unsubscribe(ch);
    op.catch((err: unknown) => this.log.warn({ err, tenant_id: tenantId, hosted }, 'typing (un)subscribe failed'));
    if (!hosted) this.budget.forget(tenantId);
  }

  async publish(tenantId: string, threadId: string, userId: string): Promise<void> {
    const msg = JSON.stringify({ threadId, userId });
    const ch = keys.typingChannel(tenantId);
    if (isCluster(this.redis)) await (this.redis as unknown as { spublish(c: string, m: string): Promise<unknown> }).spublish(ch, msg);
    else await this.redis.publish(ch, msg);
  }

  private onMessage(channel: string, message: string): void {
    const tenantId = channel.slice(channel.indexOf('{') + 1, channel.indexOf('}'));
    if (!this.enabled(tenantId)) return;
    let m: { threadId: string; userId: string };
    try {
      m = JSON.parse(message) as { threadId: string; userId: string };
    } catch (err) {
      this.log.warn({ err, channel }, 'malformed typing message');
      return;
    }
    const frame = controlFrame(EVENT.typing, { threadId: m.threadId, userId: m.userId });
    for (const c of this.hub.threadConnections(tenantId, m.threadId)) {
      if (c.userId === m.userId || c.state !== 'live') continue;
      if (this.budget.spend(tenantId)) {
        metrics.wsEventsDropped.inc({ priority: 'best_effort', reason: 'typing_budget', tenant: tenantLabels.label(tenantId) });
        this.log.warn({ tenant_id: tenantId, budget_per_s: this.config.gateway.typingBudgetPerS, suspend_ms: SUSPEND_MS },
          'typing fanout of a tenant over budget: typing suspended for that tenant');
        return;
      }
      c.ws.cork(() => c.write(frame, 'best_effort'));
    }
  }

  close(): void {
    this.sub.disconnect();
  }
}
