// The notification channel processors (groups `notify-inapp`, `notify-email`, `notify-push`), each
// over its own per-tenant queue (keys.notifyQueue), so a slow or failing provider delays only its
// channel. The periodic upkeep moves due retries back onto the queue and closes due digests for the
// tenants the due index names (all of them every 10 s), and trims the queues every minute. Delivery itself lives in workers/notify/deliver.ts; providers are created once per
// process from the configuration.
import { EVENT } from '../core/events/index.js';
import { loadConfig, type Config } from '../config/index.js';
import { trimSafely } from '../core/stream-commands.js';
import type { ProcessorDefinition } from './definition.js';
import { groupOf, queueOf, type Channel } from '../workers/notify/channels.js';
import { ChannelDelivery } from '../workers/notify/deliver.js';
import { dueTenants, tick } from '../workers/notify/queue.js';
import { Breaker } from '../workers/notify/breaker.js';
import type { Provider } from '../workers/notify/providers/provider.js';
import { createEmailProvider } from '../workers/notify/providers/email.js';
import { createPushProvider } from '../workers/notify/providers/push.js';

const TRIM_EVERY_MS = 60_000;
const OBSERVE_EVERY_MS = 1000;
/** The full sweep behind the due index: at most this late for work whose hint was lost. */
const SWEEP_EVERY_MS = 10_000;

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
  const lastSweep = new Map<string, number>();
  const lastObserved = new Map<string, number>();
  const delivery = new ChannelDelivery(channel, channel === 'inApp' ? undefined : (c) => providerFor(channel, c));
  return {
    name: groupOf(channel),
    canHandle: (type) => type === EVENT.notificationJob,
    stream: queueOf(channel),
    // A batch is sent in parallel: its size bounds the calls in flight per consumer.
    batch: (c) => c.notify.concurrency,
    handle: (ctx) => delivery.handle({ ...ctx, config: ctx.config ?? loadConfig() }),
    periodic: {
      intervalMs: (c) => c.notify.tickMs,
      async run({ tenants, redis, config: c, log }) {
        const now = Date.now();
        const served = new Set(tenants);
        // Tenants with work due according to the index; every SWEEP_EVERY_MS all of them, in case a hint was lost.
        const due = [...(await dueTenants(redis, channel, now))].filter(([t]) => served.has(t));
        const hinted = new Set(due.map(([t]) => t));
        const swept = tenants.filter((t) => !hinted.has(t) && now - (lastSweep.get(t) ?? 0) >= SWEEP_EVERY_MS);
        for (const t of [...hinted, ...swept]) lastSweep.set(t, now);
        await Promise.all([...due.map(([t, hint]) => tick(redis, t, channel, now, hint)), ...swept.map((t) => tick(redis, t, channel, now))]);
        const provider = channel === 'inApp' ? null : c.notify[channel].provider;
        if (provider && now - (lastObserved.get(provider) ?? 0) >= OBSERVE_EVERY_MS) {
          lastObserved.set(provider, now);
          await new Breaker(redis, provider, { ...c.notify.breaker, probeMs: c.notify.sendTimeoutMs + 1000 }, log).observe();
        }
        for (const t of tenants) {
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
