// The one owner of Redis Stream commands. Callers pass tenants and groups; key names come from
// core/keys.ts, replies are decoded into StreamEvent values here, and positions are typed Seqs.
import type { RedisClient } from './redis.js';
import { keys } from './keys.js';
import { decodeEntry, encodeEvent, versionOf, type NewEvent, type StreamEvent, type StreamEventType } from './events/index.js';
import { compareSeq, type Seq } from './seq.js';

type RawEntry = [string, string[]];
type RawStreams = [string, RawEntry[]][] | null;

function tenantOfEventsKey(key: string): string {
  const a = key.indexOf('{');
  const b = key.indexOf('}', a);
  return key.slice(a + 1, b);
}

/**
 * Which stream of a tenant a consumer group reads: the event stream by default; notification channel
 * queues (keys.notifyQueue) are read by their own groups through the same commands.
 */
export type StreamKeyOf = (tenantId: string) => string;

export interface TenantBatch {
  tenantId: string;
  events: StreamEvent[];
}

function decodeStreams(reply: RawStreams): TenantBatch[] {
  if (!reply) return [];
  const out: TenantBatch[] = [];
  for (const [key, entries] of reply) {
    const events: StreamEvent[] = [];
    for (const [id, fields] of entries) {
      // A claimed entry that was trimmed meanwhile comes back with null fields.
      if (fields) events.push(decodeEntry(id, fields));
    }
    out.push({ tenantId: tenantOfEventsKey(key), events });
  }
  return out;
}

/**
 * Appends one event to a tenant stream, the event stream unless another is named (no script: callers
 * that need atomic checks use ingest's Lua).
 */
export async function appendEvent(r: RedisClient, tenantId: string, e: NewEvent, stream: StreamKeyOf = keys.events): Promise<Seq> {
  return (await r.xadd(stream(tenantId), '*', ...encodeEvent(e))) as Seq;
}

/** Creates the consumer group at the start of the stream (idempotent; creates the stream too). */
export async function ensureGroup(
  r: RedisClient, tenantId: string, group: string, from: '0' | '$' = '0', stream: StreamKeyOf = keys.events,
): Promise<void> {
  try {
    await r.xgroup('CREATE', stream(tenantId), group, from, 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}

/** XREADGROUP of new entries over several tenants (all in one slot on a Cluster). */
export async function readGroup(
  r: RedisClient, group: string, consumer: string, tenants: string[], count: number, blockMs: number,
  stream: StreamKeyOf = keys.events,
): Promise<TenantBatch[]> {
  if (!tenants.length) return [];
  const args: (string | number)[] = ['GROUP', group, consumer, 'COUNT', count];
  if (blockMs > 0) args.push('BLOCK', blockMs);
  args.push('STREAMS', ...tenants.map((t) => stream(t)), ...tenants.map(() => '>'));
  const reply = (await (r as any).xreadgroup(...args)) as RawStreams;
  return decodeStreams(reply);
}

/** XREAD (no group) after the given positions: the gateway's live tail. */
export async function readAfter(
  r: RedisClient, positions: { tenantId: string; after: Seq }[], count: number, blockMs: number,
): Promise<TenantBatch[]> {
  if (!positions.length) return [];
  const args: (string | number)[] = ['COUNT', count];
  if (blockMs > 0) args.push('BLOCK', blockMs);
  args.push('STREAMS', ...positions.map((p) => keys.events(p.tenantId)), ...positions.map((p) => p.after));
  const reply = (await (r as any).xread(...args)) as RawStreams;
  return decodeStreams(reply);
}

/** Entries in (after, until], oldest first, at most `count`. */
export async function rangeAfter(
  r: RedisClient, tenantId: string, after: Seq, until: Seq | '+', count: number, stream: StreamKeyOf = keys.events,
): Promise<StreamEvent[]> {
  const raw = (await r.xrange(stream(tenantId), `(${after}`, until, 'COUNT', count)) as RawEntry[];
  return raw.map(([id, f]) => decodeEntry(id, f));
}

/** The id of the newest entry, or 0-0 for an empty or missing stream. */
export async function headSeq(r: RedisClient, tenantId: string): Promise<Seq> {
  const raw = (await r.xrevrange(keys.events(tenantId), '+', '-', 'COUNT', 1)) as RawEntry[];
  return (raw[0]?.[0] ?? '0-0') as Seq;
}

/** The id of the oldest entry still retained, or null for an empty stream. */
export async function firstSeq(r: RedisClient, tenantId: string): Promise<Seq | null> {
  const raw = (await r.xrange(keys.events(tenantId), '-', '+', 'COUNT', 1)) as RawEntry[];
  return (raw[0]?.[0] ?? null) as Seq | null;
}

export async function ack(r: RedisClient, tenantId: string, group: string, ids: string[], stream: StreamKeyOf = keys.events): Promise<void> {
  if (ids.length) await r.xack(stream(tenantId), group, ...ids);
}

/** XAUTOCLAIM entries idle for at least minIdleMs; each claim counts as one more delivery. */
export async function autoClaim(
  r: RedisClient, tenantId: string, group: string, consumer: string, minIdleMs: number, count: number,
  stream: StreamKeyOf = keys.events,
): Promise<StreamEvent[]> {
  const reply = (await (r as any).xautoclaim(stream(tenantId), group, consumer, minIdleMs, '0-0', 'COUNT', count)) as [
    string, RawEntry[], string[]?,
  ];
  const entries = reply?.[1] ?? [];
  return entries.filter(([, f]) => f).map(([id, f]) => decodeEntry(id, f));
}

/** Delivery counts of this consumer's pending entries between two ids. */
export async function deliveryCounts(
  r: RedisClient, tenantId: string, group: string, consumer: string, from: Seq, to: Seq, count: number,
  stream: StreamKeyOf = keys.events,
): Promise<Map<string, number>> {
  const raw = (await r.xpending(stream(tenantId), group, from, to, count, consumer)) as [string, string, number, number][];
  return new Map(raw.map(([id, , , n]) => [id, Number(n)]));
}

/**
 * Moves an entry to the group's dead-letter stream with a structured reason, and acks it (atomically).
 * `reason.detail` (optional) is kept as JSON in the `reason` field.
 */
export async function deadLetter(
  r: RedisClient, tenantId: string, group: string, e: StreamEvent,
  reason: { error: string; deliveries: number; consumer: string; detail?: Record<string, unknown> },
  stream: StreamKeyOf = keys.events,
): Promise<void> {
  const extra = reason.detail ? ['reason', JSON.stringify(reason.detail)] : [];
  await r
    .multi()
    .xadd(keys.deadLetters(tenantId, group), '*',
      'seq', e.seq, 't', e.type, 'v', String(e.v), 'd', e.data, 'th', e.threadId ?? '', 'u', (e.users ?? []).join(','), 'a', e.actor ?? '',
      'error', reason.error.slice(0, 2000), 'deliveries', String(reason.deliveries), 'consumer', reason.consumer,
      'at', new Date().toISOString(), ...extra)
    .xack(stream(tenantId), group, e.seq)
    .exec();
}

export interface DeadLetterEntry {
  id: string;
  seq: string;
  type: string;
  /** The entry's schema version (dead letters that did not record it were written at version 1). */
  v: number;
  error: string;
  deliveries: number;
  consumer: string;
  at: string;
  data: string;
  /** The structured reason (`deadLetter(…, {detail})`), when one was recorded. */
  reason?: Record<string, unknown>;
}

function parseReason(v: string | undefined): Record<string, unknown> | undefined {
  if (!v) return undefined;
  try {
    const o: unknown = JSON.parse(v);
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : { value: o };
  } catch {
    return { raw: v };
  }
}

export async function listDeadLetters(
  r: RedisClient, tenantId: string, group: string, count = 100, range: { from?: string; to?: string } = {},
): Promise<DeadLetterEntry[]> {
  const raw = (await r.xrange(keys.deadLetters(tenantId, group), range.from ?? '-', range.to ?? '+', 'COUNT', count)) as RawEntry[];
  return raw.map(([id, f]) => {
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < f.length; i += 2) m.set(f[i] as string, f[i + 1] as string);
    return {
      id, seq: m.get('seq') ?? '', type: m.get('t') ?? '', v: Number(m.get('v') ?? UNRECORDED_VERSION), error: m.get('error') ?? '',
      deliveries: Number(m.get('deliveries') ?? 0), consumer: m.get('consumer') ?? '', at: m.get('at') ?? '', data: m.get('d') ?? '',
      ...(m.has('reason') ? { reason: parseReason(m.get('reason')) } : {}),
    };
  });
}

/** Summed lag (entries not yet delivered) and pending count of a group on one tenant stream. */
export async function groupStats(
  r: RedisClient, tenantId: string, group: string, stream: StreamKeyOf = keys.events,
): Promise<{ lag: number; pending: number } | null> {
  const groups = (await r.xinfo('GROUPS', stream(tenantId))) as unknown[][];
  for (const g of groups) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]);
    if (m.get('name') === group) return { lag: Number(m.get('lag') ?? 0), pending: Number(m.get('pending') ?? 0) };
  }
  return null;
}

/**
 * Trims a tenant stream to its retention, never past what a consumer group has not finished:
 * the cut is the oldest of (now - retention) and every group's oldest pending / last delivered id.
 */
export async function trimSafely(
  r: RedisClient, tenantId: string, retentionMs: number, maxLen: number, stream: StreamKeyOf = keys.events,
): Promise<number> {
  const key = stream(tenantId);
  let cut = `${Date.now() - retentionMs}-0`;
  const groups = (await r.xinfo('GROUPS', key)) as unknown[][];
  const cmp = (a: string, b: string) => {
    const [am, an] = a.split('-').map(BigInt) as [bigint, bigint];
    const [bm, bn] = b.split('-').map(BigInt) as [bigint, bigint];
    return am === bm ? (an < bn ? -1 : an > bn ? 1 : 0) : am < bm ? -1 : 1;
  };
  for (const g of groups) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]);
    const name = String(m.get('name'));
    const lastDelivered = String(m.get('last-delivered-id') ?? '0-0');
    if (cmp(lastDelivered, cut) < 0) cut = lastDelivered;
    const summary = (await r.xpending(key, name)) as [number, string | null, string | null, unknown];
    if (summary[1] && cmp(summary[1], cut) < 0) cut = summary[1];
  }
  let trimmed = Number(await r.xtrim(key, 'MINID', '~', cut));
  // A length cap applies only below the safe cut: count what lies before it first.
  const len = Number(await r.xlen(key));
  if (len > maxLen) {
    const excess = (await r.xrange(key, '-', `(${cut}`, 'COUNT', Math.min(len - maxLen, 100_000))) as RawEntry[];
    const last = excess[excess.length - 1];
    if (last) trimmed += Number(await r.xtrim(key, 'MINID', '~', last[0]));
  }
  return trimmed;
}

export interface StreamInfo {
  /** Id of the last entry ever added (0-0 when the stream does not exist). */
  lastGeneratedId: Seq;
  /** Highest id removed by XDEL (Redis 7.0 does not update it on XTRIM: see `mayHaveGap`). */
  maxDeletedId: Seq;
  /** Oldest entry still held (null for an empty stream). */
  firstEntryId: Seq | null;
  /** Entries ever removed (trimmed or deleted): entries-added minus length. */
  removed: number;
}

/**
 * Whether replaying from `after` could miss entries that were trimmed or deleted. Conservative: it
 * may ask a client to resync that could have resumed, never the other way round.
 */
export function mayHaveGap(info: StreamInfo, after: Seq): boolean {
  if (compareSeq(after, info.maxDeletedId) < 0) return true;
  if (info.removed <= 0) return false;
  return info.firstEntryId === null ? compareSeq(after, info.lastGeneratedId) < 0 : compareSeq(after, info.firstEntryId) < 0;
}

function parseInfo(raw: unknown[] | null): StreamInfo {
  const m = new Map<string, unknown>();
  for (let i = 0; raw && i + 1 < raw.length; i += 2) m.set(String(raw[i]), raw[i + 1]);
  return {
    lastGeneratedId: String(m.get('last-generated-id') ?? '0-0') as Seq,
    maxDeletedId: String(m.get('max-deleted-entry-id') ?? '0-0') as Seq,
    firstEntryId: Number(m.get('length') ?? 0) > 0 ? (String(m.get('recorded-first-entry-id')) as Seq) : null,
    removed: Number(m.get('entries-added') ?? 0) - Number(m.get('length') ?? 0),
  };
}

/** Where the stream stands (last-generated-id also survives a stream trimmed to empty). */
export async function streamInfo(r: RedisClient, tenantId: string): Promise<StreamInfo> {
  try {
    return parseInfo((await r.xinfo('STREAM', keys.events(tenantId))) as unknown[]);
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return parseInfo(null);
    throw err;
  }
}

/**
 * Atomically reads a user's thread set and the stream position it is consistent with: the
 * membership is exactly the one after the last entry at that position (MULTI on one slot).
 */
export async function membershipSnapshot(r: RedisClient, tenantId: string, userId: string): Promise<{ threads: string[]; info: StreamInfo }> {
  const res = await r.multi().smembers(keys.userThreads(tenantId, userId)).xinfo('STREAM', keys.events(tenantId)).exec();
  if (!res) throw new Error('membership snapshot transaction aborted');
  const [[e1, threads], [e2, info]] = res as [[Error | null, string[]], [Error | null, unknown[]]];
  if (e1) throw e1;
  if (e2 && !/no such key/i.test(e2.message)) throw e2;
  return { threads, info: parseInfo(e2 ? null : info) };
}

// KEYS[1] the group's dead-letter stream, KEYS[2] the tenant's event stream.
// ARGV[1] the dead letter's id, ARGV[2] the schema version of dead letters that did not record theirs.
// Returns the new entry id, or false when there is no such dead letter. One script so that two
// operators replaying the same entry cannot append it twice.
const REPLAY_DEAD_LETTER = `
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f = e[1][2]
local m = {}
for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
local out = {'t', m['t'] or '', 'v', m['v'] or ARGV[2], 'd', m['d'] or '{}'}
for _, k in ipairs({'th', 'u', 'a'}) do
  if m[k] and m[k] ~= '' then out[#out + 1] = k; out[#out + 1] = m[k] end
end
local id = redis.call('XADD', KEYS[2], '*', unpack(out))
redis.call('XDEL', KEYS[1], ARGV[1])
return id
`;

/** The version of dead letters written before they recorded their entry's: the one global version of then. */
const UNRECORDED_VERSION = 1;

/**
 * Moves one dead letter back onto the tenant stream as a new event (so a new seq) with its routing
 * fields and schema version (the decoder upgrades an older one), and deletes it from the
 * dead-letter stream. Null when the dead letter does not exist.
 */
export async function replayDeadLetter(
  r: RedisClient, tenantId: string, group: string, id: string, stream: StreamKeyOf = keys.events,
): Promise<Seq | null> {
  const res = (await r.eval(REPLAY_DEAD_LETTER, 2, keys.deadLetters(tenantId, group), stream(tenantId), id, String(UNRECORDED_VERSION))) as
    | string
    | null;
  return (res ?? null) as Seq | null;
}

export interface GroupProgress {
  /** The newest entry delivered to some consumer of the group. */
  lastDelivered: Seq;
  /** The oldest entry delivered but not yet acknowledged, or null when none is pending. */
  oldestPending: Seq | null;
}

/**
 * Where a consumer group stands on a tenant stream (null when the stream or the group does not
 * exist). Read in one MULTI; every entry ≤ lastDelivered that is not pending has been acknowledged.
 */
export async function groupProgress(r: RedisClient, tenantId: string, group: string): Promise<GroupProgress | null> {
  const key = keys.events(tenantId);
  const res = await r.multi().xinfo('GROUPS', key).xpending(key, group).exec();
  if (!res) throw new Error('group progress transaction aborted');
  const [[e1, groups], [e2, summary]] = res as [[Error | null, unknown[][]], [Error | null, [number, string | null, string | null, unknown]]];
  if (e1 || e2) {
    const err = (e1 ?? e2) as Error;
    if (/no such key|NOGROUP/i.test(err.message)) return null;
    throw err;
  }
  for (const g of groups) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]);
    if (m.get('name') !== group) continue;
    return {
      lastDelivered: String(m.get('last-delivered-id') ?? '0-0') as Seq,
      oldestPending: Number(summary[0]) > 0 && summary[1] ? (summary[1] as Seq) : null,
    };
  }
  return null;
}

// KEYS[1] the group's dead-letter stream, KEYS[2] the stream to put the entry back on, KEYS[3..]
// keys to delete with it (e.g. an outcome marker that made the entry final). ARGV[1] the dead
// letter's id, ARGV[2] the type's current schema version, ARGV[3] the entry type, ARGV[4] the
// rewritten payload (in the current shape). Returns the new entry id, or false when the dead letter is gone (replayed by someone else).
const MOVE_DEAD_LETTER = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
return redis.call('XADD', KEYS[2], '*', 't', ARGV[3], 'v', ARGV[2], 'd', ARGV[4])
`;

/**
 * Moves one dead letter onto `stream` of the tenant with a new payload (e.g. its attempt counter
 * reset), deleting `alsoDelete` in the same step. Null when the dead letter does not exist any more:
 * two operators replaying the same entry append it once.
 */
export async function moveDeadLetter(
  r: RedisClient, tenantId: string, group: string, id: string, stream: StreamKeyOf,
  entry: { type: StreamEventType; data: string }, alsoDelete: string[] = [],
): Promise<Seq | null> {
  const res = (await r.eval(MOVE_DEAD_LETTER, 2 + alsoDelete.length, keys.deadLetters(tenantId, group), stream(tenantId), ...alsoDelete,
    id, String(versionOf(entry.type)), entry.type, entry.data)) as string | null;
  return (res ?? null) as Seq | null;
}
