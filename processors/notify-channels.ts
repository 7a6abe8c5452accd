// The notification channel processors (groups `notify-inapp`, `notify-email`, `notify-push`), each
// over its own per-tenant queue (keys.notifyQueue), so a slow or failing provider delays only its
// channel. The periodic upkeep moves due retries back onto the queue and closes due digests for the
// tenants the due index names (and, behind it, a bounded slice of the others per tick), and trims the
// queues every minute, a bounded slice of tenants per tick (issue 12, move 6: idle cost must not grow
// with the number of tenants). Delivery itself lives in workers/notify/deliver.ts; providers are
// created once per process from the configuration the runner hands down.
import { EVENT } from '../core/events/index.js';
import type { Config } from '../config/index.js';
import { trimSafely } from '../core/stream-commands.js';
import type { ProcessorDefinition } from './definition.js';
import { TenantSweep } from './tenant-sweep.js';
import { groupOf, queueOf, type Channel } from '../workers/notify/channels.js';
import { ChannelDelivery } from '../workers/notify/deliver.js';
import { dueTenants, tick } from '../workers/notify/queue.js';
import { Breaker } from '../workers/notify/breaker.js';
import type { Provider } from '../workers/notify/providers/provider.js';
import { createEmailProvider } from '../workers/notify/providers/email.js';
import { createPushProvider } from '../workers/notify/providers/push.js';

const TRIM_EVERY_MS = 60_000;
const OBSERVE_EVERY_MS = 1000;
/**
 * The sweep behind the due index, for work whose hint was lost: tenants visited per tick (4 ticks a
 * second by default), so a hint is at most ceil(tenants / 8) seconds late, whatever the tenant count costs.
 */
const SWEEP_PER_TICK = 2;
/**
 * Queue trims: the tenants with traffic on the channel (at most every TRIM_EVERY_MS each), and one
 * idle tenant every TRIM_IDLE_EVERY_TICKS ticks (one a second by default): an idle queue only ages.
 */
const TRIM_IDLE_EVERY_TICKS = 4;

/** One provider per channel and configuration in this process (a pooled SMTP transport, a keep-alive agent). */
const providers = new Map<string, Provider>();

function providerFor(channel: 'email' | 'push', config: Config): Provider {
  const key = `${channel}:${JSON.stringify(config.notify[channel])}:${config.notify.sendTimeoutMs}`;
  let p = providers.get(key);
  if (!p) providers.set(key, (p = channel === 'email' ? createEmailProvider(config.notify) : createPushProvider(config.notify)));
  return p;
}

function channelProcessor(channel: Channel): ProcessorDefinition {
  // Per tenant (a definition may serve several groups in one process, e.g. in tests).
  const lastTrim = new Map<string, number>();
  const dueSweep = new TenantSweep(SWEEP_PER_TICK);
  const trimSweep = new TenantSweep(1);
  let ticks = 0;
  const lastObserved = new Map<string, number>();
  const delivery = new ChannelDelivery(channel, channel === 'inApp' ? undefined : (c) => providerFor(channel, c));
  return {
    name: groupOf(channel),
    canHandle: (type) => type === EVENT.notificationJob,
    stream: queueOf(channel),
    // A batch is sent in parallel: its size bounds the calls in flight per consumer.
    batch: (c) => c.notify.concurrency,
    handle: (ctx) => delivery.handle(ctx),
    periodic: {
      intervalMs: (c) => c.notify.tickMs,
      async run({ tenants, active, redis, config: c, log }) {
        const now = Date.now();
        const served = new Set(tenants);
        // Tenants with work due according to the index, and a slice of the others in case a hint was lost.
        const due = [...(await dueTenants(redis, channel, now))].filter(([t]) => served.has(t));
        const hinted = new Set(due.map(([t]) => t));
        const swept = dueSweep.next(tenants).filter((t) => !hinted.has(t));
        await Promise.all([...due.map(([t, hint]) => tick(redis, t, channel, now, hint)), ...swept.map((t) => tick(redis, t, channel, now))]);
        const provider = channel === 'inApp' ? null : c.notify[channel].provider;
        if (provider && now - (lastObserved.get(provider) ?? 0) >= OBSERVE_EVERY_MS) {
          lastObserved.set(provider, now);
          await new Breaker(redis, provider, { ...c.notify.breaker, probeMs: c.notify.sendTimeoutMs + 1000 }, log).observe();
        }
        const trims = ++ticks % TRIM_IDLE_EVERY_TICKS === 0 ? trimSweep.next(tenants, active) : [...active];
        for (const t of trims) {
          if (now - (lastTrim.get(t) ?? 0) < TRIM_EVERY_MS) continue;
          lastTrim.set(t, now);
          await trimSafely(redis, t, c.notify.streamRetentionMs, c.streams.maxLen, queueOf(channel));
        }
      },
    },
  };
}

export const notifyInApp = channelProcessor('inApp');
export const notifyEmail = channelProcessor('email');
export const notifyPush = channelProcessor('push');
