// Typing indicators: best-effort, never in the stream. A typing frame is published on the tenant's
// pub/sub channel; every gateway hosting that tenant fans it out to the thread's other participants.
// A runtime flag turns typing off, and a gateway suspends it for a while when its fanout rate
// exceeds the configured event budget.
import type { Config } from '../../config/index.js';
import type { RedisClient } from '../../core/redis.js';
import { createRedis, isCluster } from '../../core/redis.js';
import type { Logger } from '../../core/logger.js';
import { keys } from '../../core/keys.js';
import { EVENT, controlFrame } from '../../core/events.js';
import type { Flags } from '../../core/flags.js';
import { metrics } from '../../core/metrics.js';
import type { Hub } from './hub.js';

const BUDGET_WINDOW_MS = 1000;
const SUSPEND_MS = 30_000;

export class Typing {
  private sub: RedisClient;
  private windowStart = Date.now();
  private windowCount = 0;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly hub: Hub,
    private readonly flags: Flags,
    private readonly log: Logger,
  ) {
    this.sub = createRedis(config, { name: 'gateway-typing', blocking: true });
    this.sub.on('error', (err) => this.log.warn({ err }, 'typing subscriber error'));
    const onMessage = (channel: string, message: string) => this.onMessage(channel, message);
    this.sub.on(isCluster(this.sub) ? 'smessage' : 'message', onMessage);
  }

  enabled(): boolean {
    return this.flags.enabled('typing');
  }

  tenantHosted(tenantId: string, hosted: boolean): void {
    const ch = keys.typingChannel(tenantId);
    const r = this.sub as unknown as { ssubscribe(c: string): Promise<unknown>; sunsubscribe(c: string): Promise<unknown>; subscribe(c: string): Promise<unknown>; unsubscribe(c: string): Promise<unknown> };
    const op = isCluster(this.sub) ? (hosted ? r.ssubscribe(ch) : r.sunsubscribe(ch)) : hosted ? r.subscribe(ch) : r.unsubscribe(ch);
    op.catch((err: unknown) => this.log.warn({ err, tenant_id: tenantId, hosted }, 'typing (un)subscribe failed'));
  }

  async publish(tenantId: string, threadId: string, userId: string): Promise<void> {
    const msg = JSON.stringify({ threadId, userId });
    const ch = keys.typingChannel(tenantId);
    if (isCluster(this.redis)) await (this.redis as unknown as { spublish(c: string, m: string): Promise<unknown> }).spublish(ch, msg);
    else await this.redis.publish(ch, msg);
  }

  private onMessage(channel: string, message: string): void {
    if (!this.enabled()) return;
    const tenantId = channel.slice(channel.indexOf('{') + 1, channel.indexOf('}'));
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
      c.ws.cork(() => c.write(frame, 'best_effort'));
      this.count();
    }
  }

  private count(): void {
    const now = Date.now();
    if (now - this.windowStart > BUDGET_WINDOW_MS) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    if (++this.windowCount > this.config.gateway.typingBudgetPerS) {
      this.flags.suspend('typing', SUSPEND_MS);
      metrics.wsEventsDropped.inc({ priority: 'best_effort', reason: 'typing_budget' });
      this.log.warn({ budget_per_s: this.config.gateway.typingBudgetPerS, suspend_ms: SUSPEND_MS }, 'typing fanout over budget: typing suspended');
      this.windowCount = 0;
    }
  }

  close(): void {
    this.sub.disconnect();
  }
}
