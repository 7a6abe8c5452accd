// Reconciliation (seed 3.2): drift injected into counter rows (a wrong count, a lost row, an orphan
// row, a stale read position) is found by recomputing from Postgres, healed when beyond the
// threshold, counted in counter_reconcile_total{tenant,outcome}, and told to the user's sockets.
// Also through the CLI and by the periodic job of the counters processor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { withTenant } from '../../core/db.js';
import { EVENT } from '../../core/events/index.js';
import { metrics } from '../../core/metrics.js';
import { reconcileTenant, startReconciler } from '../../processors/reconcile.js';
import { Tenant, config, log, streamOf, waitFor } from '../support/api.js';
import { REPO_ROOT, testEnv } from '../support/env.js';
import { actualState, caughtUp, expectedState, readModelHarness } from '../support/read-models.js';

const h = readModelHarness('test-reconcile');

/** A tenant with two threads, unread messages and a read position, processed and settled. */
async function busyTenant(): Promise<{ t: Tenant; th1: string; th2: string }> {
  const t = new Tenant(h.gw.api, h.auth, 'rec');
  h.tenants.add(t.id);
  const [alice, bob] = [await t.user('alice'), await t.user('bob')];
  const th1 = (await alice.thread(['bob', 'carol'])).id;
  const th2 = (await bob.thread(['alice'])).id;
  const m1 = await alice.say(th1, 'one');
  await alice.say(th1, 'two');
  await alice.say(th1, 'three');
  await bob.say(th2, 'hey');
  assert.equal((await bob.api.post(`/api/threads/${th1}/read`, bob.token, { lastReadMessageId: m1.id })).status, 202);
  await caughtUp(h.redis, t.id);
  assert.deepEqual(await actualState(h.sql, t.id), await expectedState(h.sql, t.id));
  return { t, th1, th2 };
}

async function counted(tenant: string, outcome: string): Promise<number> {
  const m = await metrics.counterReconcile.get();
  return m.values.find((v) => v.labels['tenant'] === tenant && v.labels['outcome'] === outcome)?.value ?? 0;
}

function drift(tenantId: string, fn: (tx: Parameters<Parameters<typeof withTenant>[2]>[0]) => Promise<unknown>) {
  return withTenant(h.sql, tenantId, fn);
}

test('drift beyond the threshold is healed and counted; drift within it is tolerated', async () => {
  const { t, th1, th2 } = await busyTenant();
  await drift(t.id, async (tx) => {
    await tx`update thread_user_counters set unread_count = unread_count + 5 where thread_id = ${th1} and user_id = 'carol'`;
    await tx`delete from thread_user_counters where thread_id = ${th2} and user_id = 'alice'`;
    await tx`insert into thread_user_counters (tenant_id, thread_id, user_id, unread_count) values (${t.id}, ${th1}, 'ghost', 3)`;
    await tx`update thread_user_counters set last_read_message_id = null, last_read_seq_key = null where thread_id = ${th1} and user_id = 'bob'`;
    await tx`update thread_user_counters set unread_count = unread_count + 1 where thread_id = ${th1} and user_id = 'alice'`;
  });
  const before = (await streamOf(h.redis, t.id)).length;

  const r = await reconcileTenant(h.sql, h.redis, t.id, { threshold: 1, log });
  assert.equal(r.checked, 5);
  assert.equal(r.healed, 4, JSON.stringify(r.drifts));
  assert.equal(r.tolerated, 1);
  assert.equal(await counted(t.id, 'healed'), 4);
  assert.equal(await counted(t.id, 'tolerated'), 1);
  const expected = await expectedState(h.sql, t.id);
  const actual = await actualState(h.sql, t.id);
  assert.equal(actual.counters[`${th1}/alice`]!.unread, expected.counters[`${th1}/alice`]!.unread + 1, 'tolerated drift stays');
  delete actual.counters[`${th1}/alice`];
  delete expected.counters[`${th1}/alice`];
  assert.deepEqual(actual, expected);

  // The healed users are told their true counts (the ghost is nobody's participant: not told).
  const told = (await streamOf(h.redis, t.id)).slice(before).filter((e) => e.type === EVENT.inboxUpdated);
  const perUser = Object.assign({}, ...told.map((e) => (JSON.parse(e.data) as { perUser: object }).perUser));
  assert.deepEqual(Object.keys(perUser).sort(), ['alice', 'bob', 'carol']);
  assert.equal(perUser.carol.unreadCount, 3);

  const strict = await reconcileTenant(h.sql, h.redis, t.id, { threshold: 0, log });
  assert.equal(strict.healed, 1);
  assert.deepEqual(await actualState(h.sql, t.id), await expectedState(h.sql, t.id));
  const clean = await reconcileTenant(h.sql, h.redis, t.id, { threshold: 0, log });
  assert.deepEqual([clean.healed, clean.tolerated, clean.drifts], [0, 0, []]);
  assert.equal(await counted(t.id, 'clean'), 1);
});

test('npm run chorus -- reconcile --tenant T heals and reports', async () => {
  const { t, th1 } = await busyTenant();
  await drift(t.id, (tx) => tx`update thread_user_counters set unread_count = 99 where thread_id = ${th1} and user_id = 'bob'`);
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/ops/cli.js'), 'reconcile', '--tenant', t.id],
    { env: testEnv({ CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'error' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, err);
  const line = JSON.parse(out.trim()) as { tenant: string; healed: number; checked: number };
  assert.deepEqual([line.tenant, line.healed, line.checked], [t.id, 1, 5]);
  assert.deepEqual(await actualState(h.sql, t.id), await expectedState(h.sql, t.id));
});

test('the periodic job heals without being asked, once per interval across processes', async () => {
  const { t, th2 } = await busyTenant();
  await drift(t.id, (tx) => tx`update thread_user_counters set unread_count = 42 where thread_id = ${th2} and user_id = 'alice'`);
  const jobs = [1, 2].map(() => startReconciler({ sql: h.sql, redis: h.redis, log, intervalMs: 1500, threshold: 0 }));
  try {
    await waitFor('the periodic reconciliation', async () => {
      const a = await actualState(h.sql, t.id);
      return a.counters[`${th2}/alice`]?.unread === 1;
    }, 15_000, 100);
    assert.equal(await counted(t.id, 'healed'), 1, 'healed once, by one of the two processes');
  } finally {
    await Promise.all(jobs.map((j) => j.stop()));
  }
});
