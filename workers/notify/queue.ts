// The Redis side of the notification pipeline: channel queues, the delayed (retry) sets, digests,
// and the idempotency keys (enqueue markers, outcome markers, in-flight leases). Every multi-key
// step is one script (lua/*.lua, each with its KEYS/ARGV header); all keys of a step share the
// tenant's hash tag.
import crypto from 'node:crypto';
import { keys } from '../../core/keys.js';
import { luaScript, statusScript } from '../../core/lua-script.js';
import type { RedisClient } from '../../core/redis.js';
import { EVENT, encodeEvent, versionOf, type DigestItem, type Job, type NewEvent } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import type { Channel } from './channels.js';
import { deliveryKey } from './jobs.js';

const enqueueScript = statusScript('workers/notify/lua/enqueue.lua', ['ok', 'dup']);
const digestAddScript = statusScript('workers/notify/lua/digest-add.lua', ['ok', 'dup']);
const tickScript = luaScript('workers/notify/lua/tick.lua');
const publishScript = statusScript('workers/notify/lua/publish-in-app.lua', ['ok', 'dup', 'partial']);
const dueHintScript = statusScript('workers/notify/lua/due-hint.lua', ['ok', 'unchanged']);
const takeLeaseScript = statusScript('workers/notify/lua/take-lease.lua', ['ok', 'held']);

/** Idempotency keys outlive any retry chain, digest window and queue retention by far. */
export const MARKER_TTL_MS = 7 * 24 * 3600_000;
/** Items kept per user and digest (more are counted, "and N more"). */
export const DIGEST_MAX_ITEMS = 200;
/** Entries moved per kind and tick. */
const TICK_LIMIT = 500;

/** Puts a job on its channel queue unless this (notification, channel, kind) was enqueued before. */
export async function enqueueJob(r: RedisClient, tenantId: string, job: Job, kind: 'urgent' | 'now'): Promise<boolean> {
  const res = await enqueueScript.run(r,
    [keys.notifyEnqueued(tenantId, deliveryKey(job), job.channel, kind), keys.notifyQueue(tenantId, job.channel)],
    [MARKER_TTL_MS, EVENT.notificationJob, versionOf(EVENT.notificationJob), JSON.stringify(job)]);
  return res.status === 'ok';
}

/** Adds a low-priority item to the user's open digest of the channel (opening a window of windowMs). */
export async function addToDigest(
  r: RedisClient, tenantId: string, channel: Channel, userId: string, item: DigestItem, windowMs: number,
): Promise<boolean> {
  const closesAt = Date.now() + windowMs;
  const res = await digestAddScript.run(r,
    [keys.notifyEnqueued(tenantId, item.notificationId, channel, 'digest'), keys.notifyDigest(tenantId, channel),
      keys.notifyDigestDue(tenantId, channel)],
    [MARKER_TTL_MS, userId, JSON.stringify(item), closesAt, DIGEST_MAX_ITEMS]);
  if (res.status !== 'ok') return false;
  await hintDue(r, tenantId, channel, closesAt);
  return true;
}

/**
 * Parks a job until `dueAt` (ms). The member is the job's JSON: parking the same job at the same
 * attempt twice (a redelivered failure) keeps one member.
 */
export async function scheduleJob(r: RedisClient, tenantId: string, job: Job, dueAt: number): Promise<void> {
  await r.zadd(keys.notifyDelayed(tenantId, job.channel), Math.round(dueAt), JSON.stringify(job));
  await hintDue(r, tenantId, job.channel, dueAt);
}

/**
 * Lowers (or sets) the tenant's hint in the channel's due index. A separate key (another slot on a
 * Cluster), so not atomic with the write it follows: a hint lost to a crash in between is found by
 * the upkeep's periodic full sweep.
 */
async function hintDue(r: RedisClient, tenantId: string, channel: Channel, dueAt: number): Promise<void> {
  await r.zadd(keys.notifyDue(channel), 'LT', Math.round(dueAt), tenantId);
}

/** Tenants whose hint in the channel's due index is due, with the hint's score. */
export async function dueTenants(r: RedisClient, channel: Channel, now: number, limit = 1000): Promise<Map<string, number>> {
  const flat = await r.zrangebyscore(keys.notifyDue(channel), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as string, Number(flat[i + 1]));
  return out;
}

/**
 * Moves due jobs back onto the queue and closes due digests (one script per tenant and channel),
 * then moves the tenant's due hint to its next due time: compare-and-set against `hint` (the score
 * the visit started from), or only lowering it when the visit came from the full sweep.
 */
export async function tick(
  r: RedisClient, tenantId: string, channel: Channel, now = Date.now(), hint?: number,
): Promise<{ moved: number; closed: number; next: number }> {
  const [moved, closed, nextRaw] = (await tickScript.run(r,
    [keys.notifyDelayed(tenantId, channel), keys.notifyQueue(tenantId, channel), keys.notifyDigest(tenantId, channel),
      keys.notifyDigestDue(tenantId, channel)],
    [now, TICK_LIMIT, EVENT.notificationJob, versionOf(EVENT.notificationJob), channel])) as [number, number, string];
  const next = Number(nextRaw);
  if (hint !== undefined) await dueHintScript.run(r, [keys.notifyDue(channel)], [tenantId, hint, next]);
  else if (next >= 0) await hintDue(r, tenantId, channel, next);
  return { moved: Number(moved), closed: Number(closed), next };
}

/** The outcome of a delivery once final: `sent` (with the provider's id) or `dead`. */
export interface Outcome {
  kind: 'sent' | 'dead';
  providerId: string;
  at: number;
}

function encodeOutcome(o: Outcome): string {
  return `${o.kind}|${o.providerId.replace(/\|/g, '')}|${o.at}`;
}

function decodeOutcome(v: string | null): Outcome | null {
  if (!v) return null;
  const [kind, providerId = '', at = '0'] = v.split('|');
  return kind === 'sent' || kind === 'dead' ? { kind, providerId, at: Number(at) } : null;
}

/** Outcome markers of several deliveries of one tenant (one MGET: the keys share the tenant's slot). */
export async function outcomes(r: RedisClient, tenantId: string, jobs: Job[]): Promise<(Outcome | null)[]> {
  if (!jobs.length) return [];
  const vals = await r.mget(...jobs.map((j) => keys.notifyDone(tenantId, deliveryKey(j), j.channel)));
  return vals.map(decodeOutcome);
}

/** Records a final outcome; a marker already there (another consumer's) is kept. */
export async function recordOutcome(r: RedisClient, tenantId: string, job: Job, o: Outcome): Promise<void> {
  await r.set(keys.notifyDone(tenantId, deliveryKey(job), job.channel), encodeOutcome(o), 'PX', MARKER_TTL_MS, 'NX');
}

/** The key to delete so that a dead delivery may be tried again (dead-letter replay). */
export function outcomeKey(tenantId: string, job: Job): string {
  return keys.notifyDone(tenantId, deliveryKey(job), job.channel);
}

/** Takes the in-flight lease of a delivery: its token, or how long another consumer still holds it (ms). */
export async function takeLease(
  r: RedisClient, tenantId: string, job: Job, ttlMs: number,
): Promise<{ token: string } | { heldForMs: number }> {
  const token = crypto.randomBytes(8).toString('hex');
  // A status, not a number: 0 used to mean taken, and PTTL answers 0 for a lease in its last millisecond.
  const res = await takeLeaseScript.run(r, [keys.notifyLease(tenantId, deliveryKey(job), job.channel)], [token, ttlMs]);
  return res.status === 'ok' ? { token } : { heldForMs: Math.max(1, Number(res.values[0])) };
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export async function releaseLease(r: RedisClient, tenantId: string, job: Job, token: string): Promise<void> {
  await r.eval(RELEASE, 1, keys.notifyLease(tenantId, deliveryKey(job), job.channel), token);
}

/**
 * Appends one notification.created (no th) for jobs of the same message — one job, or several with
 * each one's fields under data.perUser and u = their users — unless they were published before.
 * Returns its seq; null when all were published before; 'partial' when only some were (publish
 * those alone: a single job is never partial). The markers last markerTtlMs (the replay window).
 */
export async function publishInApp(
  r: RedisClient, tenantId: string, jobs: Job[], e: NewEvent<typeof EVENT.notificationCreated>, markerTtlMs: number,
): Promise<Seq | null | 'partial'> {
  const res = await publishScript.run(r, [keys.events(tenantId), ...jobs.map((j) => keys.notifyDone(tenantId, deliveryKey(j), j.channel))],
    [markerTtlMs, encodeOutcome({ kind: 'sent', providerId: 'in-app', at: Date.now() }), ...encodeEvent(e)]);
  if (res.status === 'partial') return 'partial';
  return res.status === 'ok' ? (res.values[0] as Seq) : null;
}
