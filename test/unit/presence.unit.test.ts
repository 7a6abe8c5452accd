// Presence's pure parts (gateway/presence/*.ts): shard assignment, shard load statistics, the
// summary-mode state machine, the watch registry, the batcher's limits, query and config parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../../config/index.js';
import { fnv1a, parseUpdate, quantile, shardLoad, shardOf, tenantOfChannel, countStatuses, type PresenceUpdate } from '../../gateway/presence/status.js';
import { SummaryMode, summaryCounts } from '../../gateway/presence/summary-mode.js';
import { Registry, type Subscriber } from '../../gateway/presence/registry.js';
import { Batcher, type WritableConn } from '../../gateway/presence/batcher.js';
import { parseUserIds } from '../../gateway/routes/presence.js';
import { keys } from '../../core/keys.js';
import { AppError } from '../../core/errors.js';

const config = loadConfig({ CHORUS_DATA_DIR: '/tmp/chorus-unit' });

test('config: the seed numbers are the defaults', () => {
  const p = config.presence;
  assert.equal(p.shards, 64);
  assert.equal(p.ttlMs, 75_000);
  assert.equal(p.coalesceMs, 5000);
  assert.equal(p.batchMax, 100);
  assert.equal(p.batchMs, 200);
  assert.equal(p.summaryIntervalMs, 1000);
  assert.ok(p.summaryRecovery < p.summaryThreshold);
  assert.ok(config.gateway.heartbeatIntervalMs >= 20_000 && config.gateway.heartbeatIntervalMs <= 30_000, 'client heartbeat every 20–30 s');
  assert.ok(p.ttlMs >= 2 * config.gateway.heartbeatIntervalMs, 'two missed heartbeats before expiry');
});

test('config: per-tenant shard counts, batch size clamped to the contract limit of 100', () => {
  const c = loadConfig({ CHORUS_DATA_DIR: '/tmp/chorus-unit', CHORUS_PRESENCE_SHARDS_BY_TENANT: 'acme:128, small:8', CHORUS_PRESENCE_BATCH_MAX: '500' });
  assert.deepEqual(c.presence.shardsByTenant, { acme: 128, small: 8 });
  assert.equal(c.presence.batchMax, 100);
  for (const bad of ['acme', 'acme:0', 'acme:x', 'bad id:3']) {
    assert.throws(() => loadConfig({ CHORUS_DATA_DIR: '/tmp/chorus-unit', CHORUS_PRESENCE_SHARDS_BY_TENANT: bad }), ConfigError, bad);
  }
});

test('shards: stable FNV-1a, within [0, N), N per tenant, spread evenly', () => {
  assert.equal(fnv1a(''), 0x811c9dc5);
  assert.equal(fnv1a('a'), 0xe40c292c);
  const c = { ...config, presence: { ...config.presence, shards: 64, shardsByTenant: { small: 4 } } };
  const counts = new Array(64).fill(0) as number[];
  for (let i = 0; i < 64_000; i++) {
    const s = shardOf(c, 'big', `user_${i}`);
    assert.ok(s >= 0 && s < 64);
    counts[s]!++;
  }
  assert.ok(Math.max(...counts) < 1.2 * 1000 && Math.min(...counts) > 0.8 * 1000, `uneven: ${Math.min(...counts)}..${Math.max(...counts)}`);
  for (let i = 0; i < 100; i++) assert.ok(shardOf(c, 'small', `u${i}`) < 4);
  assert.equal(shardOf(c, 'big', 'alice'), shardOf(c, 'big', 'alice'));
});

test('channels: chorus:presence:{tenant}:shard, tenant parsed back', () => {
  assert.equal(keys.presenceChannel('acme', 17), 'chorus:presence:{acme}:17');
  assert.equal(tenantOfChannel('chorus:presence:{acme}:17'), 'acme');
  assert.equal(tenantOfChannel('chorus:presence:acme:17'), null);
  assert.equal(keys.presencePublished('acme', 'bob', 7), 'chorus:{acme}:presence:pub:bob:7');
});

test('parseUpdate accepts exactly the presence.batch item shape', () => {
  const u = { userId: 'b', status: 'away', version: 3, at: '2025-01-01T00:00:00.000Z' };
  assert.deepEqual(parseUpdate(JSON.stringify(u)), u);
  assert.equal(parseUpdate('nope'), null);
  assert.equal(parseUpdate(JSON.stringify({ ...u, status: 'busy' })), null);
  assert.equal(parseUpdate(JSON.stringify({ ...u, version: 1.5 })), null);
  assert.equal(parseUpdate(JSON.stringify({ ...u, at: 5 })), null);
});

test('shard load: quantiles and the rebalance rule (p95 > 2 × p50, enough samples)', () => {
  assert.equal(quantile([], 0.5), 0);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.95), 4);
  const even = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [String(i), 10]));
  assert.equal(shardLoad(even, 8).rebalance, false);
  const skewed = { ...even, '3': 100 };
  const l = shardLoad(skewed, 8);
  assert.equal(l.p50, 10);
  assert.equal(l.p95, 100);
  assert.equal(l.rebalance, true);
  assert.equal(shardLoad({ '0': 3 }, 8).rebalance, false, 'too few updates to judge');
  assert.equal(shardLoad({}, 64).total, 0);
});

test('summary mode: enters above the threshold, leaves once below recovery for a whole interval', () => {
  const m = new SummaryMode({ threshold: 100, recovery: 10, minDwellMs: 1000 });
  assert.equal(m.check(100, 0), null, 'at the threshold: not yet');
  assert.equal(m.check(101, 0), 'enter');
  assert.equal(m.check(500, 100), null);
  assert.equal(m.check(5, 500), null, 'drained, but too soon');
  assert.equal(m.check(50, 1500), null, 'between the watermarks: stays, and the calm interval restarts');
  assert.equal(m.check(9, 1600), null, 'a dip between waves of a burst does not end the mode');
  assert.equal(m.check(9, 2499), null);
  assert.equal(m.check(9, 2500), 'exit');
  assert.equal(m.active, false);
  assert.equal(m.check(50, 2600), null, 'below the threshold: stays out');
  const known = new Map<string, PresenceUpdate>([
    ['a', { userId: 'a', status: 'online', version: 1, at: '' }],
    ['b', { userId: 'b', status: 'dnd', version: 1, at: '' }],
  ]);
  assert.deepEqual(summaryCounts(['a', 'b', 'c'], known), { online: 1, away: 0, dnd: 1, offline: 0 });
  assert.deepEqual(countStatuses([]), { online: 0, away: 0, dnd: 0, offline: 0 });
});

const conn = (id: string, userId: string, tenantId = 't') => ({ id, userId, tenantId });

test('registry: watchers are counted per thread; users shared by threads stay watched until the last goes', () => {
  const r = new Registry();
  const a = conn('c1', 'a');
  let ch = r.addThreads(a, ['th1', 'th2'], new Map([['th1', ['a', 'b']], ['th2', ['b', 'c']]]));
  assert.deepEqual(ch.gatewayAdded.sort(), ['a', 'b', 'c']);
  assert.deepEqual(ch.subscriberAdded.map((x) => x.userId).sort(), ['a', 'b', 'c']);
  const b = conn('c2', 'x');
  ch = r.addThreads(b, ['th1'], new Map());
  assert.deepEqual(ch.gatewayAdded, [], 'th1 members are known on this gateway');
  assert.deepEqual(ch.subscriberAdded.map((x) => x.userId).sort(), ['a', 'b']);

  ch = r.removeThreads(a, ['th1']);
  assert.deepEqual(ch.gatewayRemoved, [], 'b is still watched through th2, a through c2');
  ch = r.removeSubscriber(b);
  assert.deepEqual(ch.gatewayRemoved, ['a']);
  ch = r.removeSubscriber(a);
  assert.deepEqual(ch.gatewayRemoved.sort(), ['b', 'c']);
  assert.equal(r.tenants.size, 0, 'nothing left for the tenant');
});

test('registry: membership changes; a removed participant loses its own subscription to the thread', () => {
  const r = new Registry();
  const a = conn('c1', 'a');
  const b = conn('c2', 'b');
  r.addThreads(a, ['th'], new Map([['th', ['a', 'b']]]));
  r.addThreads(b, ['th'], new Map());
  let ch = r.memberAdded('t', 'th', 'c');
  assert.deepEqual(ch.gatewayAdded, ['c']);
  assert.equal(ch.subscriberAdded.length, 2);
  assert.deepEqual(r.memberAdded('t', 'th', 'c').subscriberAdded, [], 'idempotent');
  assert.deepEqual(r.memberAdded('t', 'other', 'c').subscriberAdded, [], 'threads nobody subscribed are ignored');

  ch = r.memberRemoved('t', 'th', 'b');
  assert.ok(!r.get(b)!.threads.has('th'), 'b no longer subscribed to th');
  assert.ok(!r.get(a)!.watch.has('b'));
  assert.deepEqual(ch.gatewayRemoved, ['b']);
  assert.ok(r.get(a)!.watch.has('c'));
});

class FakeConn implements WritableConn {
  closed = false;
  buffered = 0;
  readonly frames: { type: string; data: { updates: PresenceUpdate[] } }[] = [];
  readonly ws = { cork: (cb: () => void) => { cb(); return this.ws as never; }, getBufferedAmount: () => this.buffered };
  constructor(readonly id: string, readonly userId = 'u', readonly tenantId = 't') {}
  write(frame: string): boolean {
    this.frames.push(JSON.parse(frame));
    return true;
  }
}

function sub(c: FakeConn): Subscriber<FakeConn> {
  return { conn: c, threads: new Set(), watch: new Map(), sent: new Map(), pending: new Map(), timer: null, summary: false };
}
const upd = (userId: string, version: number, status: PresenceUpdate['status'] = 'online'): PresenceUpdate => ({ userId, status, version, at: new Date().toISOString() });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('batcher: 100 waiting leave at once, fewer after the window; never a version twice', async () => {
  const b = new Batcher<FakeConn>({ batchMax: 100, batchMs: 30, softBuffer: 1000 });
  const c = new FakeConn('c');
  const s = sub(c);
  for (let i = 0; i < 250; i++) b.enqueue(s, upd(`u${i}`, 1), true);
  assert.deepEqual(c.frames.map((f) => f.data.updates.length), [100, 100], 'full batches leave immediately');
  await tick(60);
  assert.deepEqual(c.frames.map((f) => f.data.updates.length), [100, 100, 50], 'the rest after the window');
  assert.equal(c.frames[0]!.type, 'presence.batch');
  b.enqueue(s, upd('u1', 1), true);
  b.enqueue(s, upd('u2', 2, 'away'), true);
  b.enqueue(s, upd('u2', 3, 'dnd'), true);
  b.enqueue(s, upd('u2', 2, 'away'), true);
  await tick(60);
  assert.deepEqual(c.frames.at(-1)!.data.updates.map((u) => [u.userId, u.version]), [['u2', 3]], 'old and sent versions are dropped, latest wins');
});

test('batcher: a socket over its soft buffer keeps updates pending (latest state) and gets them later', async () => {
  const b = new Batcher<FakeConn>({ batchMax: 100, batchMs: 20, softBuffer: 1000 });
  const c = new FakeConn('c');
  const s = sub(c);
  c.buffered = 5000;
  b.enqueue(s, upd('x', 1), true);
  b.enqueue(s, upd('x', 2, 'offline'), true);
  await tick(50);
  assert.equal(c.frames.length, 0);
  assert.equal(s.pending.size, 1);
  c.buffered = 0;
  await tick(50);
  assert.deepEqual(c.frames.map((f) => f.data.updates.map((u) => u.version)), [[2]]);
  assert.equal(b.drop(s), 0);
});

test('GET /api/presence userIds: 1..max valid ids', () => {
  assert.deepEqual(parseUserIds('a,b', 200), ['a', 'b']);
  for (const bad of [null, '', 'a,', ',a', 'a b', 'x'.repeat(65), 'a,b,c']) {
    assert.throws(() => parseUserIds(bad, 2), (e: unknown) => e instanceof AppError && e.status === 400, String(bad));
  }
});
