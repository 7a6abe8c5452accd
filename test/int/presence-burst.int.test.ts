// Presence under bursts (seed 2.3 and 6.2; docs/presence.md): a gateway whose presence queue passes
// the summary threshold sends presence.summary to affected subscribers instead of per-user deltas,
// leaves the mode below the recovery watermark with a catch-up batch, and every subscriber's view
// equals the true state within 2 s of the end of a burst, with no stale online.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config, sleep, waitFor, log, type TestGateway } from '../support/api.js';
import { useStack } from '../support/stack.js';
import type { WsClient, Frame } from '../support/ws-client.js';
import type { Config } from '../../config/index.js';
import { keys } from '../../core/keys.js';
import { metrics } from '../../core/metrics.js';
import { tenantLabels } from '../../core/tenant-label.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Publisher } from '../../gateway/presence/publisher.js';
import { Sweeper } from '../../gateway/presence/sweeper.js';
import { applyPresence, presenceOf, type Decision } from '../../gateway/presence/store.js';
import { shardOf, type PresenceUpdate } from '../../gateway/presence/status.js';

const USERS = 300;
const CONVERGE_MS = 2000;
const cfg = (o: Partial<Config['presence']>): Config => ({ ...config, presence: { ...config.presence, coalesceMs: 1000, ...o } });
/** A gateway with a low backstop threshold, and one with the defaults. */
const summaryCfg = cfg({ summaryThreshold: 50, summaryRecovery: 10 });
const normalCfg = cfg({});

let other: Publisher;

const stack = useStack({
  prefix: 'pburst',
  gateways: { summary: { presence: summaryCfg.presence }, normal: { presence: normalCfg.presence } },
  async setup(s) {
    other = new Publisher(normalCfg, s.redis, log);
    s.defer(() => other.stop());
  },
});

interface Update { userId: string; status: string; version: number }

function viewOf(c: WsClient): Map<string, Update> {
  const m = new Map<string, Update>();
  for (const f of c.frames) {
    if (f.type !== 'presence.batch') continue;
    for (const u of f.data.updates as Update[]) if ((m.get(u.userId)?.version ?? -1) < u.version) m.set(u.userId, u);
  }
  return m;
}

async function subscriber(t: TestGateway, token: string, threadId: string, expect: number): Promise<WsClient> {
  const { client } = await stack.open(undefined, token, { on: t });
  client.send({ type: 'presence.subscribe', data: { threadIds: [threadId] } });
  await waitFor('the subscription snapshot', async () => viewOf(client).size >= expect, 5000);
  return client;
}

/** Differences between a subscriber's view and the truth in Redis (status and version per user). */
function diff(view: Map<string, Update>, truth: { userId: string; status: string; version: number }[]): string[] {
  const out: string[] = [];
  for (const t of truth) {
    const v = view.get(t.userId);
    if (!v || v.status !== t.status || v.version !== t.version) out.push(`${t.userId}: view ${v?.status}@${v?.version}, truth ${t.status}@${t.version}`);
  }
  return out;
}

/**
 * One round of a burst as many gateways would produce it: the state changes are applied in Redis,
 * then their updates are published back to back (one pipeline), so they reach the subscribing
 * gateways as one wave.
 */
async function wave(tenantId: string, changes: [string, 'touch' | 'leave'][]): Promise<void> {
  const decisions: Decision[] = await Promise.all(changes.map(([u, op]) =>
    applyPresence(stack.redis, normalCfg, tenantId, u, op === 'touch'
      ? { op: 'touch', connectionId: `c_${u}`, status: 'online' }
      : { op: 'leave', connectionId: `c_${u}`, graceMs: 0 })));
  const pipe = stack.redis.pipeline();
  for (const d of decisions) {
    if (d.kind !== 'publish') continue;
    const u: PresenceUpdate = d.update;
    pipe.set(keys.presencePublished(tenantId, u.userId, u.version), '1', 'PX', 60_000, 'NX');
    pipe.publish(keys.presenceChannel(tenantId, shardOf(normalCfg, tenantId, u.userId)), JSON.stringify(u));
  }
  await pipe.exec();
}

const counter = async (direction: string) =>
  (await metrics.presenceSummaryTransitions.get()).values.find((v) => v.labels['direction'] === direction)?.value ?? 0;

test('summary mode: over the threshold subscribers get presence.summary, deltas wait, a catch-up restores the exact state', async () => {
  const t = stack.tenant('psum', stack.gateway('summary'));
  const a = await t.user('a');
  const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
  const th = await a.thread(users);
  const cs = await subscriber(stack.gateway('summary'), a.token, th.id, USERS + 1);
  const cn = await subscriber(stack.gateway('normal'), a.token, th.id, USERS + 1);
  const [entered, exited] = [await counter('enter'), await counter('exit')];

  await wave(t.id, users.map((u) => [u, 'touch']));
  await wave(t.id, users.filter((_, i) => i % 2 === 0).map((u) => [u, 'leave']));
  await wave(t.id, users.filter((_, i) => i % 4 === 0).map((u) => [u, 'touch']));
  const burstEnd = Date.now();
  const truth = await presenceOf(stack.redis, config, t.id, ['a', ...users]);

  const firstSummary = await cs.waitFor((f) => f.type === 'presence.summary', 3000, 'presence.summary');
  assert.equal(firstSummary.seq, undefined);
  assert.deepEqual(Object.keys(firstSummary.data.counts).sort(), ['away', 'dnd', 'offline', 'online']);
  const sum = Object.values(firstSummary.data.counts as Record<string, number>).reduce((x, y) => x + y, 0);
  assert.equal(sum, USERS + 1, 'counts cover every watched user');

  await waitFor('the summary subscriber to catch up', async () => diff(viewOf(cs), truth).length === 0, 5000);
  const convergedS = Date.now() - burstEnd;
  await waitFor('the normal subscriber to match', async () => diff(viewOf(cn), truth).length === 0, 5000);
  const convergedN = Date.now() - burstEnd;
  assert.ok(convergedS <= CONVERGE_MS, `summary subscriber converged after ${convergedS} ms`);
  assert.ok(convergedN <= CONVERGE_MS, `normal subscriber converged after ${convergedN} ms`);

  // Deltas were deferred: no per-user batch between the first and the last summary.
  const i0 = cs.frames.indexOf(firstSummary);
  const iLast = cs.frames.map((f) => f.type).lastIndexOf('presence.summary');
  const between = cs.frames.slice(i0, iLast).filter((f: Frame) => f.type === 'presence.batch');
  assert.equal(between.length, 0, 'no presence.batch while in summary mode');
  assert.ok(cs.frames.slice(iLast).some((f) => f.type === 'presence.batch'), 'a catch-up batch after the last summary');
  assert.equal(cn.frames.filter((f) => f.type === 'presence.summary').length, 0, 'the gateway below its threshold never degraded');
  assert.ok((await counter('enter')) > entered, 'entering summary mode is counted');
  await waitFor('summary mode to end', async () => (await counter('exit')) > exited, 3000);
  assert.equal(stack.gateway('summary').gateway.presence.fanout.mode.active, false);

  await wave(t.id, users.map((u) => [u, 'leave']));
});

test('after a burst of transitions (real sockets and other gateways), every subscriber sees the true state within 2 s', async () => {
  const t = stack.tenant('pconv', stack.gateway('normal'));
  const watchers = await Promise.all(['w0', 'w1', 'w2', 'w3'].map((u) => t.user(u)));
  const socketUsers = await Promise.all(Array.from({ length: 40 }, (_, i) => t.user(`s${i}`)));
  const remote = Array.from({ length: 200 }, (_, i) => `r${i}`);
  const th = await watchers[0]!.thread([...watchers.slice(1).map((w) => w.userId), ...socketUsers.map((u) => u.userId), ...remote]);
  const total = watchers.length + socketUsers.length + remote.length;
  const subs = await Promise.all(watchers.map((w, i) => subscriber(stack.gateway(i % 2 ? 'summary' : 'normal'), w.token, th.id, total)));

  // Ten rounds: sockets connect and disconnect on both gateways, remote users flap through other gateways.
  const open = new Map<string, WsClient>();
  for (let round = 0; round < 10; round++) {
    const socketOps = socketUsers.map(async (u, i) => {
      const c = open.get(u.userId);
      if (c) {
        open.delete(u.userId);
        if ((i + round) % 3) await c.close();
      } else if ((i + round) % 2) {
        const { client } = await stack.open(undefined, u, { on: stack.gateway(i % 2 ? 'summary' : 'normal') });
        open.set(u.userId, client);
        if (i % 5 === 0) client.send({ type: 'presence.heartbeat', data: { status: 'dnd' } });
      }
    });
    const remoteOps = remote.map((u, i) => other.apply(t.id, u, (i + round) % 2
      ? { op: 'touch', connectionId: `c_${u}`, status: 'online' }
      : { op: 'leave', connectionId: `c_${u}`, graceMs: 0 }));
    await Promise.all([...socketOps, ...remoteOps]);
  }
  // Settle the transitions: the last round ends with offline <-> online changes only, published at once.
  const burstEnd = Date.now();
  await sleep(50);
  const everyone = [...watchers.map((w) => w.userId), ...socketUsers.map((u) => u.userId), ...remote];
  const onlineOf = (s: string) => (s === 'offline' ? 'offline' : 'not offline');
  await waitFor('every subscriber to agree with Redis on who is online', async () => {
    const truth = await presenceOf(stack.redis, config, t.id, everyone);
    return subs.every((c) => {
      const v = viewOf(c);
      return truth.every((x) => v.get(x.userId) !== undefined && onlineOf(v.get(x.userId)!.status) === onlineOf(x.status));
    });
  }, 5000, 50);
  const converged = Date.now() - burstEnd;
  assert.ok(converged <= CONVERGE_MS, `online/offline converged after ${converged} ms`);
  // Exact statuses too, once the coalescing window of the last non-transition change has passed.
  await sleep(normalCfg.presence.coalesceMs);
  await waitFor('exact state everywhere', async () => {
    const truth = await presenceOf(stack.redis, config, t.id, everyone);
    return subs.every((c) => diff(viewOf(c), truth).length === 0);
  }, CONVERGE_MS);
  for (const c of open.values()) await c.close();
  await Promise.all(remote.map((u) => other.apply(t.id, u, { op: 'leave', connectionId: `c_${u}`, graceMs: 0 })));
});

test('shard load: updates are counted per shard; p95 > 2 × p50 suggests a rebalance (metric and log)', async () => {
  const tenantId = stack.tenant('pload', stack.gateway('normal')).id;
  const c = cfg({ shardsByTenant: { [tenantId]: 4 }, loadWindowMs: 1000 });
  const pub = new Publisher(c, stack.redis, log);
  // Hold the tenant's load window so that the other gateways' sweepers leave its counts alone.
  await stack.redis.set(keys.presenceLoadLease(tenantId), 'test', 'PX', 60_000);
  const candidates = Array.from({ length: 400 }, (_, i) => `l${i}`);
  const hot = candidates.filter((u) => shardOf(c, tenantId, u) === 0).slice(0, 40);
  const cold = [1, 2, 3].flatMap((s) => candidates.filter((u) => shardOf(c, tenantId, u) === s).slice(0, 2));
  for (const u of [...hot, ...cold]) {
    await pub.apply(tenantId, u, { op: 'touch', connectionId: `c_${u}`, status: 'online' });
    await pub.apply(tenantId, u, { op: 'leave', connectionId: `c_${u}`, graceMs: 0 });
  }
  assert.equal(Number(await stack.redis.hget(keys.presenceLoad(tenantId), '0')), 80, 'two publishes per hot user on shard 0');
  const lines: string[] = [];
  const capture = pino({ level: 'warn' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  await stack.redis.del(keys.presenceLoadLease(tenantId)); // the window ends: the next sweeper round evaluates it
  // Per-tenant series are kept for the process's top tenants by traffic (core/tenant-label.ts): this
  // one's traffic went through the Publisher directly, so it is counted here as its gateway would.
  tenantLabels.label(tenantId, 1000);
  tenantLabels.rank();
  const sweeper = new Sweeper(c, stack.redis, pub, capture, 'test-sweeper');
  await sweeper.sweepOnce();
  const suggested = (await metrics.presenceRebalanceSuggested.get()).values.find((v) => v.labels['tenant'] === tenantId);
  assert.equal(suggested?.value, 1);
  const gauge = (await metrics.presenceShardLoad.get()).values.filter((v) => v.labels['tenant'] === tenantId);
  assert.equal(gauge.find((v) => v.labels['quantile'] === 'p95')?.value, 80);
  assert.equal(gauge.find((v) => v.labels['quantile'] === 'p50')?.value, 4);
  assert.ok(lines.some((l) => l.includes('presence shard load is skewed') && l.includes(tenantId)), lines.join('\n'));
  assert.equal(await stack.redis.exists(keys.presenceLoad(tenantId)), 0, 'a new window starts from zero');
  await pub.stop();
});
