// Presence state in Redis: the atomic state changes (presence-apply.lua next to this file), the
// contract's presence entries (over core/presence.ts's read on the Redis clock), and publishing on
// shard channels behind the `tenant:user:version` idempotency key.
// Everything here is stateless: any gateway may call it for any user.
import type { Config } from '../../config/index.js';
import type { RedisClient } from '../../core/redis.js';
import { isCluster } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { statusScript } from '../../core/lua-script.js';
import { metrics } from '../../core/metrics.js';
import { readPresence, type Status } from '../../core/presence.js';
import { shardOf, type PresenceUpdate } from './status.js';

const applyScript = statusScript('gateway/presence/presence-apply.lua', ['none', 'publish', 'deferred']);

export type Op =
  /** A heartbeat, or the implicit one of a connect (status online). */
  | { op: 'touch'; connectionId: string; status: Status }
  /** A disconnect; graceMs > 0 keeps the connection live that much longer (gateway draining). */
  | { op: 'leave'; connectionId: string; graceMs: number }
  /** The end of a coalescing window: publish the latest state if it is still unpublished. */
  | { op: 'flush' }
  /** A sweeper visit: drop expired connections and publish what that changes. */
  | { op: 'expire' };

/** What the caller must do after a state change. */
export type Decision =
  | { kind: 'none'; update: PresenceUpdate }
  | { kind: 'publish'; update: PresenceUpdate }
  | { kind: 'deferred'; update: PresenceUpdate; waitMs: number };

const iso = (ms: number) => new Date(ms).toISOString();

/** Applies one heartbeat/connect, disconnect, coalescing deadline or sweep of one user (presence-apply.lua). */
export async function applyPresence(r: RedisClient, config: Config, tenantId: string, userId: string, o: Op): Promise<Decision> {
  const shard = shardOf(config, tenantId, userId);
  const arg5 = o.op === 'touch' ? o.status : o.op === 'leave' ? o.graceMs : '';
  const res = await applyScript.run(
    r,
    [keys.presenceUser(tenantId, userId), keys.presenceExpiry(tenantId, shard), keys.presenceDue(tenantId), keys.presenceLoad(tenantId)],
    [o.op, userId, shard, o.op === 'touch' || o.op === 'leave' ? o.connectionId : '', arg5, config.presence.ttlMs, config.presence.coalesceMs],
  );
  const [status, version, at, waitMs] = res.values;
  const update: PresenceUpdate = { userId, status: status as Status, version: Number(version), at: iso(Number(at)) };
  if (res.status === 'deferred') return { kind: 'deferred', update, waitMs: Math.max(0, Number(waitMs)) };
  return { kind: res.status, update };
}

/**
 * The contract's presence entries (GET /api/presence, and GET /api/sync's `presence`): one per
 * distinct user id, in the order given; users never seen are offline at version 0.
 */
export async function presenceOf(
  redis: RedisClient, config: Config, tenantId: string, userIds: string[],
): Promise<{ userId: string; status: Status; version: number; lastSeenAt: string | null }[]> {
  void config; // the signature GET /api/sync calls; shard counts do not matter for reads
  const records = await readPresence(redis, tenantId, [...new Set(userIds)]);
  return records.map(({ userId, status, version, lastSeenAt }) => ({ userId, status, version, lastSeenAt }));
}

/**
 * Publishes one update on its shard channel unless that user's version was published already
 * (SET NX of `tenant:user:version`); false when suppressed as a duplicate.
 */
export async function publishUpdate(
  r: RedisClient, config: Config, tenantId: string, u: PresenceUpdate, reason: 'immediate' | 'coalesced' | 'expired',
): Promise<boolean> {
  const first = await r.set(keys.presencePublished(tenantId, u.userId, u.version), '1', 'PX', config.presence.dedupeTtlMs, 'NX');
  if (first === null) {
    metrics.presenceDuplicates.inc({ stage: 'publish' });
    return false;
  }
  const channel = keys.presenceChannel(tenantId, shardOf(config, tenantId, u.userId));
  const message = JSON.stringify(u);
  if (isCluster(r)) await r.spublish(channel, message);
  else await r.publish(channel, message);
  metrics.presencePublished.inc({ reason });
  return true;
}

/** Records that a tenant has presence activity now, so that the sweepers visit it. */
export async function registerPresenceTenant(r: RedisClient, tenantId: string, nowMs: number): Promise<void> {
  await r.zadd(keys.presenceTenants(), nowMs, tenantId);
}

/** Tenants with presence activity since `sinceMs`; forgets the ones idle since before `forgetBeforeMs`. */
export async function activePresenceTenants(r: RedisClient, sinceMs: number, forgetBeforeMs: number): Promise<string[]> {
  await r.zremrangebyscore(keys.presenceTenants(), '-inf', forgetBeforeMs);
  return r.zrangebyscore(keys.presenceTenants(), sinceMs, '+inf');
}
