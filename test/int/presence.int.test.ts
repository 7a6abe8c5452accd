// Presence (contract sections 2 Presence and 3 presence.*; docs/presence.md): state with a TTL over
// every connection of a user on every gateway, transitions published at once, other changes
// coalesced per user, duplicates suppressed, batches of at most batchMax users or batchMs, shard
// channels subscribed only for watched users, membership kept current, GET /api/presence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  config, startTestGateway, assertError, sleep, waitFor, log, type TestGateway,
} from '../support/api.js';
import { useStack } from '../support/stack.js';
import { WsClient, type Frame } from '../support/ws-client.js';
import type { Config } from '../../config/index.js';
import { keys } from '../../core/keys.js';
import { metrics } from '../../core/metrics.js';
import { Publisher } from '../../gateway/presence/publisher.js';
import { presenceOf } from '../../gateway/presence/store.js';
import { shardOf } from '../../gateway/presence/status.js';

const COALESCE_MS = 1000;
const TTL_MS = 1000;
const withPresence = (o: Partial<Config['presence']>): Partial<Config> => ({ presence: { ...config.presence, coalesceMs: COALESCE_MS, ...o } });

/** The publishing half of "another gateway": state changes of connections that exist only in Redis. */
let other: Publisher;

const stack = useStack({
  prefix: 'pres',
  gateways: { gw1: withPresence({}), gw2: withPresence({}), ttl: withPresence({ ttlMs: TTL_MS, sweepIntervalMs: 100 }) },
  async setup(s) {
    other = new Publisher({ ...config, ...withPresence({}) } as Config, s.redis, log);
    s.defer(() => other.stop());
  },
});

/** A socket of `token` on gateway `t`, open until the file ends. */
async function open(t: TestGateway, token: string): Promise<WsClient> {
  return (await stack.open(undefined, token, { on: t })).client;
}

interface Update { userId: string; status: string; version: number; at: string }

const batches = (c: WsClient): Frame[] => c.frames.filter((f) => f.type === 'presence.batch');
const updatesOf = (c: WsClient, userId?: string): Update[] =>
  batches(c).flatMap((f) => f.data.updates as Update[]).filter((u) => !userId || u.userId === userId);

/** What a client following the contract believes: the newest version per user wins. */
function viewOf(c: WsClient): Map<string, Update> {
  const m = new Map<string, Update>();
  for (const u of updatesOf(c)) if ((m.get(u.userId)?.version ?? -1) < u.version) m.set(u.userId, u);
  return m;
}

/** The first batch telling `userId` is `status` at a version above `aboveVersion` (0: not the never-seen snapshot). */
function waitStatus(c: WsClient, userId: string, status: string, timeoutMs = 3000, aboveVersion = 0): Promise<Frame> {
  return c.waitFor((f) => f.type === 'presence.batch' &&
    (f.data.updates as Update[]).some((u) => u.userId === userId && u.status === status && u.version > aboveVersion),
  timeoutMs, `${userId} ${status} above version ${aboveVersion}`);
}

/** A subscriber: opens a socket for `userId` and subscribes to the threads, waiting for the snapshot of `expect` users. */
async function subscriber(t: TestGateway, token: string, threadIds: string[], expect: number): Promise<WsClient> {
  const c = await open(t, token);
  c.send({ type: 'presence.subscribe', data: { threadIds } });
  await waitFor('the subscription snapshot', async () => viewOf(c).size >= expect, 5000);
  return c;
}

test('connecting is online; a user stays online while any connection on any gateway lives; the last disconnect is offline at once', async () => {
  const t = stack.tenant('pmulti');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b']);
  const ca = await subscriber(stack.gw, a.token, [th.id], 2);
  const snap = viewOf(ca).get('b')!;
  assert.deepEqual({ status: snap.status, version: snap.version }, { status: 'offline', version: 0 }, 'never seen: offline at version 0');
  for (const f of batches(ca)) assert.equal(f.seq, undefined, 'presence frames carry no seq');

  const b1 = await open(stack.gw, b.token);
  const b2 = await open(stack.gateway('gw2'), b.token);
  const online = await waitStatus(ca, 'b', 'online');
  const v1 = (online.data.updates as Update[]).find((u) => u.userId === 'b')!.version;
  assert.ok(v1 > 0);
  await b1.close();
  await sleep(600);
  assert.equal(viewOf(ca).get('b')!.status, 'online', 'one connection left on the other gateway: still online');
  assert.equal(updatesOf(ca, 'b').length, 2, `no offline flap: ${JSON.stringify(updatesOf(ca, 'b'))}`);

  const closedAt = Date.now();
  await b2.close();
  await waitStatus(ca, 'b', 'offline', 2000);
  assert.ok(Date.now() - closedAt < 1500, 'offline is a transition: published at once (plus one batch window)');
  const off = viewOf(ca).get('b')!;
  assert.ok(off.version > v1, 'every change gets a newer version');

  const r = await a.api.get('/api/presence?userIds=b', a.token);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.users[0].status, 'offline');
  assert.equal(r.body.users[0].version, off.version, 'HTTP and websocket agree on the version');
  assert.ok(!Number.isNaN(Date.parse(r.body.users[0].lastSeenAt)), 'lastSeenAt is a timestamp');
});

test('heartbeats set the status; the strongest status of the live connections wins (dnd over online)', async () => {
  const t = stack.tenant('pstat');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b']);
  const ca = await subscriber(stack.gw, a.token, [th.id], 2);
  const b1 = await open(stack.gw, b.token);
  const b2 = await open(stack.gateway('gw2'), b.token);
  await waitStatus(ca, 'b', 'online');
  await sleep(COALESCE_MS + 100); // past the coalescing window of the connect
  b1.send({ type: 'presence.heartbeat', data: { status: 'dnd' } });
  await waitStatus(ca, 'b', 'dnd');
  b2.send({ type: 'presence.heartbeat', data: { status: 'online' } });
  await sleep(COALESCE_MS + 400);
  assert.equal(viewOf(ca).get('b')!.status, 'dnd', 'another connection heartbeating online does not override dnd');
  await b1.close();
  await waitStatus(ca, 'b', 'online', COALESCE_MS + 2000);
  const r = await a.api.get('/api/presence?userIds=b', a.token);
  assert.equal(r.body.users[0].status, 'online');
});

test('TTL: a connection that stops heartbeating expires and goes offline (sweeper); a heartbeat brings it back', async () => {
  const t = stack.tenant('pttl', stack.gateway('ttl'));
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b', 'ghost']);
  const ca = await subscriber(stack.gateway('ttl'), a.token, [th.id], 3);
  // a's own socket would expire too: keep it alive like a client following heartbeatIntervalMs.
  const keepA = setInterval(() => ca.send({ type: 'presence.heartbeat', data: { status: 'online' } }), TTL_MS / 3);
  try {
    const cb = await open(stack.gateway('ttl'), b.token);
    const connectedAt = Date.now();
    await waitStatus(ca, 'b', 'online');
    // b's socket stays open but sends nothing: the TTL counts from the connect (implicit heartbeat).
    await waitStatus(ca, 'b', 'offline', TTL_MS + 2000);
    assert.ok(Date.now() - connectedAt >= TTL_MS - 50, 'not before the TTL');
    const expiredVersion = viewOf(ca).get('b')!.version;
    cb.send({ type: 'presence.heartbeat', data: { status: 'online' } });
    await ca.waitFor((f) => f.type === 'presence.batch' && (f.data.updates as Update[]).some((u) => u.userId === 'b' && u.status === 'online' && u.version > expiredVersion));

    // A connection that vanished without a close (its gateway died): found by the sweeper too.
    const dying = new Publisher({ ...config, ...withPresence({ ttlMs: TTL_MS }) } as Config, stack.redis, log);
    await dying.apply(t.id, 'ghost', { op: 'touch', connectionId: 'c_vanished', status: 'online' });
    await dying.stop();
    await waitStatus(ca, 'ghost', 'online');
    await waitStatus(ca, 'ghost', 'offline', TTL_MS + 2000);
    const [ghost] = await presenceOf(stack.redis, config, t.id, ['ghost']);
    assert.equal(ghost!.status, 'offline');
    assert.equal(await stack.redis.zscore(keys.presenceExpiry(t.id, shardOf(config, t.id, 'ghost')), 'ghost'), null, 'expiry index cleaned up');
    const expired = (await metrics.presenceExpired.get()).values[0]?.value ?? 0;
    assert.ok(expired >= 2, `expired counter: ${expired}`);
  } finally {
    clearInterval(keepA);
  }
});

test('coalescing: changes other than offline<->online leave at most once per user per window, with the latest state', async () => {
  const t = stack.tenant('pcoal');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b']);
  const ca = await subscriber(stack.gw, a.token, [th.id], 2);
  const cb = await open(stack.gateway('gw2'), b.token);
  await waitStatus(ca, 'b', 'online');
  const onlineAt = Date.now();
  for (const status of ['away', 'dnd', 'away', 'online', 'dnd']) cb.send({ type: 'presence.heartbeat', data: { status } });
  const dnd = await waitStatus(ca, 'b', 'dnd', COALESCE_MS + 2000);
  assert.ok(Date.now() - onlineAt >= COALESCE_MS - 250, 'held back until the window of the last publish ended');
  await sleep(300);
  assert.deepEqual(updatesOf(ca, 'b').map((u) => u.status), ['offline', 'online', 'dnd'], 'five changes in one window: one publish');
  const v = (dnd.data.updates as Update[]).find((u) => u.userId === 'b')!.version;
  const [truth] = await presenceOf(stack.redis, config, t.id, ['b']);
  assert.deepEqual({ status: truth!.status, version: truth!.version }, { status: 'dnd', version: v }, 'the coalesced publish carries the latest state');
  const coalesced = (await metrics.presenceCoalesced.get()).values[0]?.value ?? 0;
  assert.ok(coalesced >= 1);

  // Heartbeats that change nothing publish nothing.
  const count = updatesOf(ca, 'b').length;
  for (let i = 0; i < 3; i++) cb.send({ type: 'presence.heartbeat', data: { status: 'dnd' } });
  await sleep(COALESCE_MS + 400);
  assert.equal(updatesOf(ca, 'b').length, count, 'refreshes without a change are not published');

  // After the window, a change leaves at once; offline (invisible) is a transition and never waits.
  const t0 = Date.now();
  cb.send({ type: 'presence.heartbeat', data: { status: 'away' } });
  await waitStatus(ca, 'b', 'away', 1000);
  cb.send({ type: 'presence.heartbeat', data: { status: 'offline' } });
  await waitStatus(ca, 'b', 'offline', 1000);
  assert.ok(Date.now() - t0 < COALESCE_MS, 'the transition did not wait for the window');
});

test('duplicates: a version is published once (tenant:user:version key) and delivered once', async () => {
  const t = stack.tenant('pdup');
  const a = await t.user('a');
  const th = await a.thread(['b']);
  const ca = await subscriber(stack.gw, a.token, [th.id], 2);
  const d = await other.apply(t.id, 'b', { op: 'touch', connectionId: 'c_dup', status: 'online' });
  assert.equal(d.kind, 'publish');
  await waitStatus(ca, 'b', 'online');
  assert.equal(await stack.redis.exists(keys.presencePublished(t.id, 'b', d.update.version)), 1, 'the idempotency key exists');
  assert.equal(await other.publish(t.id, d.update, 'immediate'), false, 'the same version again is suppressed at the source');
  // Even when the key is gone (TTL), a gateway never hands a subscriber a version it already has.
  await stack.redis.del(keys.presencePublished(t.id, 'b', d.update.version));
  assert.equal(await other.publish(t.id, d.update, 'immediate'), true);
  await sleep(500);
  assert.equal(updatesOf(ca, 'b').filter((u) => u.version === d.update.version).length, 1, JSON.stringify(updatesOf(ca, 'b')));
  const dups = (await metrics.presenceDuplicates.get()).values;
  assert.ok(dups.some((v) => v.labels['stage'] === 'publish' && v.value >= 1), JSON.stringify(dups));
  assert.ok(dups.some((v) => v.labels['stage'] === 'gateway' && v.value >= 1), JSON.stringify(dups));
  await other.apply(t.id, 'b', { op: 'leave', connectionId: 'c_dup', graceMs: 0 });
});

test('batches: at most 100 users per frame, a full batch leaves at once, a lone update within the batch window', async () => {
  const t = stack.tenant('pbatch');
  const a = await t.user('a');
  const members = Array.from({ length: 250 }, (_, i) => `u${i}`);
  const th = await a.thread(members);
  const ca = await subscriber(stack.gw, a.token, [th.id], 251);
  for (const f of batches(ca)) assert.ok(f.data.updates.length >= 1 && f.data.updates.length <= 100, `${f.data.updates.length} updates`);
  const before = batches(ca).length;

  await Promise.all(members.map((u) => other.apply(t.id, u, { op: 'touch', connectionId: `c_${u}`, status: 'online' })));
  await waitFor('250 users online', async () => members.every((u) => viewOf(ca).get(u)?.status === 'online'), 5000);
  const burst = batches(ca).slice(before);
  assert.ok(burst.length >= 3, `250 updates need at least 3 frames, got ${burst.length}`);
  for (const f of burst) assert.ok(f.data.updates.length <= 100, `${f.data.updates.length} updates in one frame`);
  assert.ok(burst.some((f) => f.data.updates.length === 100), `a full frame leaves when 100 are waiting: ${burst.map((f) => f.data.updates.length)}`);
  for (const f of burst) {
    for (const u of f.data.updates as Update[]) {
      assert.deepEqual(Object.keys(u).sort(), ['at', 'status', 'userId', 'version']);
      assert.ok(!Number.isNaN(Date.parse(u.at)));
    }
  }

  const n = batches(ca).length;
  const sent = Date.now();
  await other.apply(t.id, 'u7', { op: 'leave', connectionId: 'c_u7', graceMs: 0 });
  const lone = await ca.waitFor((f) => f.type === 'presence.batch' && batches(ca).indexOf(f) >= n, 2000, 'the lone update');
  const waited = Date.now() - sent;
  assert.equal(lone.data.updates.length, 1);
  assert.ok(waited >= config.presence.batchMs - 60 && waited < config.presence.batchMs + 700, `a lone update waits for the batch window: ${waited} ms`);
  await Promise.all(members.map((u) => other.apply(t.id, u, { op: 'leave', connectionId: `c_${u}`, graceMs: 0 })));
});

async function presenceChannels(tenantId: string): Promise<string[]> {
  // Single Redis in tests; the pattern is escaped for the hash-tag braces.
  const ch = (await stack.redis.pubsub('CHANNELS', `chorus:presence:\\{${tenantId}\\}:*`)) as string[];
  return ch.sort();
}

test('shards: a gateway subscribes only to the shard channels of users its subscribers watch, and leaves them after', async () => {
  const t = stack.tenant('pshard', stack.gateway('gw2'));
  const a = await t.user('a');
  const th = await a.thread(['b', 'c']);
  await a.thread(['d', 'e', 'f', 'g', 'h']); // not subscribed: its members' shards are not listened to
  const expected = (users: string[]) => [...new Set(users.map((u) => keys.presenceChannel(t.id, shardOf(config, t.id, u))))].sort();
  assert.deepEqual(await presenceChannels(t.id), [], 'nobody subscribed: no shard channel');
  const ca = await subscriber(stack.gateway('gw2'), a.token, [th.id], 3);
  assert.deepEqual(await presenceChannels(t.id), expected(['a', 'b', 'c']));
  assert.match(expected(['a'])[0]!, new RegExp(`^chorus:presence:\\{${t.id}\\}:\\d+$`), 'channel shape chorus:presence:{tenant}:shard');
  ca.send({ type: 'presence.unsubscribe', data: { threadIds: [th.id] } });
  await waitFor('channels released', async () => (await presenceChannels(t.id)).length === 0, 3000);
});

test('shards: the shard count is per tenant (CHORUS_PRESENCE_SHARDS_BY_TENANT)', async () => {
  const t = stack.tenant('pfew');
  const few = await startTestGateway(config, withPresence({ shardsByTenant: { [t.id]: 2 } }));
  try {
    const a = await t.user('a');
    const members = Array.from({ length: 20 }, (_, i) => `m${i}`);
    const th = await a.thread(members);
    await subscriber(few, a.token, [th.id], 21);
    const chans = await presenceChannels(t.id);
    assert.deepEqual(chans, [keys.presenceChannel(t.id, 0), keys.presenceChannel(t.id, 1)]);
  } finally {
    await few.close();
  }
});

test('subscriptions: only threads one participates in; membership changes add and remove watched users', async () => {
  const t = stack.tenant('pmemb');
  const [a, b, c, x] = await Promise.all([t.user('a'), t.user('b'), t.user('c'), t.user('x')]);
  const th = await a.thread(['b']);
  const foreign = await x.thread([]);
  const ca = await open(stack.gw, a.token);
  ca.send({ type: 'presence.subscribe', data: { threadIds: [th.id, foreign.id] } });
  const err = await ca.waitFor((f) => f.type === 'error');
  assert.equal(err.data.code, 'not_participant');
  await sleep(300);
  assert.equal(batches(ca).length, 0, 'a refused subscription subscribes nothing');

  ca.send({ type: 'presence.subscribe', data: { threadIds: [th.id] } });
  await waitFor('snapshot', async () => viewOf(ca).size === 2);
  const cc = await open(stack.gateway('gw2'), c.token);
  assert.equal((await b.addParticipant(th.id, 'c')).status, 204);
  await waitStatus(ca, 'c', 'online', 3000);

  // b leaves the thread: a no longer hears of b.
  assert.equal((await b.removeParticipant(th.id, 'b')).status, 204);
  await sleep(300);
  const cb = await open(stack.gateway('gw2'), b.token);
  await sleep(COALESCE_MS / 2);
  assert.equal(updatesOf(ca, 'b').filter((u) => u.status === 'online').length, 0, 'b is no longer watched');

  // c's own presence subscription to the thread ends when c is removed from it.
  cc.send({ type: 'presence.subscribe', data: { threadIds: [th.id] } });
  await waitFor('c snapshot', async () => viewOf(cc).has('a'));
  assert.equal((await a.removeParticipant(th.id, 'c')).status, 403, 'only oneself or an admin removes');
  const admin = await t.user('root', { admin: true });
  assert.equal((await admin.removeParticipant(th.id, 'c')).status, 204);
  await cc.waitFor((f) => f.type === 'permission.revoked');
  await sleep(300);
  const seen = updatesOf(cc).length;
  await cb.close();
  ca.send({ type: 'presence.heartbeat', data: { status: 'dnd' } });
  await waitStatus(ca, 'a', 'dnd', COALESCE_MS + 2000);
  assert.equal(updatesOf(cc).length, seen, 'a removed participant hears nothing more of the thread');
});

test('GET /api/presence: statuses, unknown users offline at version 0, validation', async () => {
  const t = stack.tenant('phttp');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const cb = await open(stack.gw, b.token);
  await waitFor('b online', async () => (await presenceOf(stack.redis, config, t.id, ['b']))[0]!.status === 'online');
  const r = await a.api.get('/api/presence?userIds=b,nobody,b', a.token);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.users.length, 2, 'one entry per distinct id');
  const [ub, un] = r.body.users;
  assert.deepEqual(Object.keys(ub).sort(), ['lastSeenAt', 'status', 'userId', 'version']);
  assert.equal(ub.userId, 'b');
  assert.equal(ub.status, 'online');
  assert.ok(ub.version >= 1);
  assert.ok(Math.abs(Date.parse(ub.lastSeenAt) - Date.now()) < 10_000);
  assert.deepEqual(un, { userId: 'nobody', status: 'offline', version: 0, lastSeenAt: null });
  await cb.close();

  assertError(await a.api.get('/api/presence', a.token), 400, 'invalid_request');
  assertError(await a.api.get('/api/presence?userIds=', a.token), 400, 'invalid_request');
  assertError(await a.api.get('/api/presence?userIds=a,,b', a.token), 400, 'invalid_request');
  assertError(await a.api.get(`/api/presence?userIds=${encodeURIComponent('bad id')}`, a.token), 400, 'invalid_request');
  assertError(await a.api.get(`/api/presence?userIds=${'x'.repeat(65)}`, a.token), 400, 'invalid_request');
  const many = Array.from({ length: config.presence.maxUserIds + 1 }, (_, i) => `u${i}`).join(',');
  assertError(await a.api.get(`/api/presence?userIds=${many}`, a.token), 400, 'invalid_request');
  const max = Array.from({ length: config.presence.maxUserIds }, (_, i) => `u${i}`).join(',');
  assert.equal((await a.api.get(`/api/presence?userIds=${max}`, a.token)).status, 200);
  assertError(await a.api.get('/api/presence?userIds=b'), 401);
});

test('another tenant never sees this tenant\'s presence', async () => {
  const t1 = stack.tenant('piso1');
  const t2 = stack.tenant('piso2');
  const [a1, b1] = await Promise.all([t1.user('a'), t1.user('b')]);
  const a2 = await t2.user('a');
  const th2 = await a2.thread(['b']);
  const c2 = await subscriber(stack.gw, a2.token, [th2.id], 2);
  await open(stack.gw, b1.token);
  const r = await a1.api.get('/api/presence?userIds=b', a2.token);
  assert.equal(r.body.users[0].status, 'offline', 'b of tenant 1 is not b of tenant 2');
  await sleep(500);
  assert.equal(updatesOf(c2, 'b').filter((u) => u.status === 'online').length, 0);
});

test('a draining gateway leaves its users online for the grace period, so a reconnect elsewhere is no flap', async () => {
  const graceGw = await startTestGateway(config, withPresence({ drainGraceMs: 1500 }));
  const t = stack.tenant('pdrain');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b']);
  const ca = await subscriber(stack.gw, a.token, [th.id], 2);
  const { client: cb } = await WsClient.open(graceGw.wsUrl, { token: b.token });
  await waitStatus(ca, 'b', 'online');
  await graceGw.gateway.drain(100);
  await cb.closed;
  await open(stack.gateway('gw2'), b.token); // the client reconnects elsewhere
  await graceGw.close();
  await sleep(1500 + 1500); // past the grace and a sweep
  assert.deepEqual(updatesOf(ca, 'b').map((u) => u.status), ['offline', 'online'], 'no offline between the drain and the reconnect');
});

test('a gateway shutting down: its users go offline once the grace period is over, not a TTL later', async () => {
  const graceGw = await startTestGateway(config, withPresence({ drainGraceMs: 800, sweepIntervalMs: 100 }));
  const t = stack.tenant('pshut');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b']);
  const ca = await subscriber(stack.gw, a.token, [th.id], 2);
  await WsClient.open(graceGw.wsUrl, { token: b.token });
  const online = await waitStatus(ca, 'b', 'online');
  const v = (online.data.updates as Update[]).find((u) => u.userId === 'b')!.version;
  const closedAt = Date.now();
  await graceGw.close();
  await waitStatus(ca, 'b', 'offline', 4000, v);
  const after = Date.now() - closedAt;
  assert.ok(after >= 700, `not before the grace period: ${after} ms`);
});
