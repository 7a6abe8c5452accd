// The notification channels, their consumer groups and queues. One queue (stream) and one consumer
// group per channel and tenant, so a slow provider only ever delays its own channel.
import type { NotifyChannel } from '../../core/events/index.js';
import { keys } from '../../core/keys.js';

export const CHANNELS = ['inApp', 'email', 'push'] as const satisfies readonly NotifyChannel[];
export type Channel = (typeof CHANNELS)[number];

/** Channels with an external provider (retries, breaker, status callbacks). */
export const PROVIDER_CHANNELS = ['email', 'push'] as const satisfies readonly Channel[];
export type ProviderChannel = (typeof PROVIDER_CHANNELS)[number];

/**
 * Channels that interrupt the user: quiet hours and "active elsewhere" apply, and low-priority
 * notifications wait for a digest. In-app is the silent feed: every notification lands there at once.
 */
export const INTERRUPTIVE: ReadonlySet<Channel> = new Set<Channel>(['email', 'push']);

export function isChannel(v: unknown): v is Channel {
  return typeof v === 'string' && (CHANNELS as readonly string[]).includes(v);
}

export function isProviderChannel(v: unknown): v is ProviderChannel {
  return typeof v === 'string' && (PROVIDER_CHANNELS as readonly string[]).includes(v);
}

/** Consumer group of a channel queue: notify-inapp, notify-email, notify-push. */
export function groupOf(channel: Channel): string {
  return `notify-${channel.toLowerCase()}`;
}

/** The group that turns message events into intents. */
export const INTENTS_GROUP = 'notify-intents';

export function queueOf(channel: Channel): (tenantId: string) => string {
  return (tenantId) => keys.notifyQueue(tenantId, channel);
}
