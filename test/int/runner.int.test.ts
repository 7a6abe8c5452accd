// The shared runner against the real Redis and Postgres: consumers of one group share the entries
// (none lost, none twice) and ack after success; outages are retried, never dead-lettered; an entry
// whose data Postgres refuses is dead-lettered at once, other poison after maxDeliveries, with its
// reason, while the rest flows; a processor killed with -9
// mid-burst loses nothing and duplicates nothing; the role stops gracefully on SIGTERM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Config } from '../../config/index.js';
import { createSql, withTenant, type Sql } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import { createRedis, type RedisClient } from '../../core/redis.js';
import { migrate } from '../../core/migrate.js';
import { sleep } from '../../core/backoff.js';
import { EVENT } from '../../core/events/index.js';
import { keys } from '../../core/keys.js';
import type { Seq } from '../../core/seq.js';
import { appendEvent, groupStats, listDeadLetters, rangeAfter, replayDeadLetter } from '../../core/stream-commands.js';
import { registerTenant } from '../../core/tenants.js';
import type { ProcessorDefinition } from '../../processors/definition.js';
import { Runner } from '../../processors/runner.js';
import { TenantDirectory } from '../../processors/tenants.js';
import { startProcessorGroup } from '../../processors/group.js';
import { persist } from '../../processors/persist.js';
import { seqBefore } from '../../processors/rebuild.js';
import { spawnRole, testConfig, uniqueTenant } from '../support/env.js';

const base = testConfig();
// Quiet: these tests provoke failures on purpose, and the runner logs every one of them.
const log = createLogger({ role: 'test', level: 'fatal' });
let sql: Sql;
let redis: RedisClient;

before(async () => {
  sql = createSql(base, { max: 8, app: 'test-runner' });
  redis = createRedis(base, { name: 'test-runner' });
  await migrate(sql);
});
after(async () => {
  await sql.end({ timeout: 5 });
  redis.disconnect();
});

function withProcessors(over: Partial<Config['processors']>): Config {
  return { ...base, processors: { ...base.processors, ...over } };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const groupName = (prefix: string) => `${prefix}_${crypto.randomBytes(4).toString('hex')}`;

function message(i: number, threadId = 'th_1') {
  return {
    type: EVENT.messageCreated, threadId, actor: 'alice',
    data: { id: `m_${String(i).padStart(6, '0')}`, threadId, senderId: 'alice', body: `message ${i}`, mentions: [], attachmentIds: [] },
  };
}

async function countMessages(tenantId: string): Promise<number> {
  const rows = await withTenant(sql, tenantId, (tx) => tx`select count(*)::int as n from messages`);
  return Number(rows[0]?.['n']);
}

async function settled(tenantId: string, group: string) {
  const s = await groupStats(redis, tenantId, group);
  return s && s.pending === 0 && s.lag === 0 ? s : null;
}

test('consumers of one group share the entries: each handled once, all acked, new tenants picked up', async (t) => {
  const group = groupName('share');
  const [a, b] = [uniqueTenant('share'), uniqueTenant('share')] as [string, string];
  const config = withProcessors({ batch: 10, blockMs: 200, claimIdleMs: 60_000 });
  const handledBy = new Map<string, string[]>();
  const definition = (consumer: string): ProcessorDefinition => ({
    name: group,
    canHandle: (type) => type === EVENT.messageCreated,
    async handle({ tenantId, events }) {
      await sleep(2); // long enough for the other consumers to be served meanwhile
      const list = handledBy.get(consumer) ?? [];
      list.push(...events.map((e) => `${tenantId}/${e.seq}`));
      handledBy.set(consumer, list);
    },
  });
  await registerTenant(redis, a);
  const directory = new TenantDirectory({ config, redis, group, log, accept: (t) => t === a || t === b });
  await directory.start();
  const runners = ['c0', 'c1', 'c2'].map((consumer) =>
    new Runner({ definition: definition(consumer), config, sql, redis, directory, log, consumer }));
  runners.forEach((r) => r.start());
  try {
    const expected: string[] = [];
    const write = async (tenantId: string, n: number) => {
      for (let i = 0; i < n; i++) {
        expected.push(`${tenantId}/${await appendEvent(redis, tenantId, message(i))}`);
        // Entries nobody handles are acked all the same.
        if (i % 10 === 0) await appendEvent(redis, tenantId, { type: EVENT.participantAdded, data: { threadId: 'th_1', userId: 'bob' }, threadId: 'th_1' });
      }
    };
    await write(a, 300);
    // A tenant that appears while the consumers are blocked reading: discovered by pub/sub.
    await registerTenant(redis, b);
    await write(b, 300);
    await waitFor('every entry handled', async () => [...handledBy.values()].flat().length >= expected.length);
    await waitFor('everything acked', async () => (await settled(a, group)) && (await settled(b, group)));
    const all = [...handledBy.values()].flat();
    assert.equal(all.length, expected.length, 'nothing handled twice');
    assert.deepEqual(new Set(all), new Set(expected), 'nothing lost');
    const shares = `work shared: ${[...handledBy].map(([c, l]) => `${c}=${l.length}`).join(' ')}`;
    t.diagnostic(shares);
    assert.ok([...handledBy.values()].filter((l) => l.length > 0).length >= 2, shares);
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
    await directory.stop();
  }
});

test('a dependency outage is retried with backoff and never dead-lettered', async () => {
  const group = groupName('outage');
  const tenant = uniqueTenant('outage');
  // One delivery allowed: a claim during the outage would dead-letter if outages counted as failures.
  const config = withProcessors({ batch: 20, blockMs: 200, claimIdleMs: 100, claimIntervalMs: 50, maxDeliveries: 1 });
  let failuresLeft = 4;
  const done = new Set<string>();
  const definition: ProcessorDefinition = {
    name: group,
    canHandle: () => true,
    async handle({ events }) {
      if (failuresLeft-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      for (const e of events) done.add(e.seq);
    },
  };
  await registerTenant(redis, tenant);
  const running = await startProcessorGroup({ definition, config, sql, log, consumers: 1, accept: (t) => t === tenant });
  try {
    const seqs: Seq[] = [];
    for (let i = 0; i < 30; i++) seqs.push(await appendEvent(redis, tenant, message(i)));
    await waitFor('all handled after the outage', async () => seqs.every((s) => done.has(s)));
    await waitFor('all acked', () => settled(tenant, group));
    assert.deepEqual(await listDeadLetters(redis, tenant, group), []);
  } finally {
    await running.stop();
  }
});

test('an entry whose data Postgres refuses is dead-lettered at once, with its reason and one warning line; the others are persisted', async () => {
  const group = groupName('persist_poison');
  const tenant = uniqueTenant('poison');
  // Claims would take minutes: only the runner's own verdict on the first failure can dead-letter it here.
  const config = withProcessors({ batch: 50, blockMs: 200, claimIdleMs: 600_000, claimIntervalMs: 100, maxDeliveries: 3 });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); cb(); } });
  const captured = pino({ level: 'debug' }, sink);
  await registerTenant(redis, tenant);
  const running = await startProcessorGroup({
    definition: { ...persist, name: group }, config, sql, log: captured, consumers: 2, accept: (t) => t === tenant,
  });
  try {
    let poison: Seq | undefined;
    for (let i = 0; i < 41; i++) {
      const m = message(i);
      // Postgres cannot hold NUL (jsonb: 22P05): this entry can never be written.
      if (i === 20) m.data.body = 'before \u0000 after';
      const seq = await appendEvent(redis, tenant, m);
      if (i === 20) poison = seq;
    }
    const [dead] = await waitFor('the dead letter', async () => {
      const l = await listDeadLetters(redis, tenant, group);
      return l.length ? l : null;
    });
    assert.equal(dead?.seq, poison);
    assert.equal(dead?.type, EVENT.messageCreated);
    assert.match(dead?.error ?? '', /^postgres 22P05: .*unicode/i, 'the reason names the SQLSTATE');
    assert.equal(dead?.deliveries, 1, 'dead-lettered on its first delivery, not through claims');
    await waitFor('nothing pending', () => settled(tenant, group));
    assert.equal(await countMessages(tenant), 40);
    assert.equal((await listDeadLetters(redis, tenant, group)).length, 1);
    const aboutIt = lines.filter((l) => l['seq'] === poison && Number(l['level']) >= 40);
    assert.equal(aboutIt.length, 1, `one warning for the entry: ${JSON.stringify(aboutIt)}`);
    assert.equal(aboutIt[0]?.['level'], 40);
    assert.equal(JSON.stringify(lines).includes('"stack"'), false, 'no stack trace logged');
  } finally {
    await running.stop();
  }
});

test('an entry that does not decode is dead-lettered at once with its reason, never reaching the handler; the rest flows', async () => {
  const group = groupName('invalid');
  const tenant = uniqueTenant('invalid');
  // Claims would take minutes: only the runner's decode can dead-letter these here, on their first delivery.
  const config = withProcessors({ batch: 50, blockMs: 200, claimIdleMs: 600_000, claimIntervalMs: 100, maxDeliveries: 3 });
  const handled: string[] = [];
  let calls = 0;
  const definition: ProcessorDefinition = {
    name: group,
    canHandle: (type) => type === EVENT.messageCreated,
    async handle({ events }) {
      calls++;
      for (const e of events) if (e.type === EVENT.messageCreated) handled.push(e.payload.id);
    },
  };
  await registerTenant(redis, tenant);
  const running = await startProcessorGroup({ definition, config, sql, log, consumers: 1, accept: (t) => t === tenant });
  try {
    const xadd = (v: string, d: string) => redis.xadd(keys.events(tenant), '*', 't', EVENT.messageCreated, 'v', v, 'd', d, 'th', 'th_1') as Promise<Seq>;
    for (let i = 0; i < 5; i++) await appendEvent(redis, tenant, message(i));
    const noSender = await xadd('1', JSON.stringify({ ...message(5).data, senderId: undefined }));
    const newer = await xadd('99', JSON.stringify(message(6).data));
    const notJson = await xadd('1', '{"id":');
    for (let i = 7; i < 12; i++) await appendEvent(redis, tenant, message(i));
    const dead = await waitFor('three dead letters', async () => {
      const l = await listDeadLetters(redis, tenant, group);
      return l.length >= 3 ? l : null;
    });
    await waitFor('nothing pending', () => settled(tenant, group));
    assert.deepEqual(dead.map((d) => d.seq), [noSender, newer, notJson]);
    assert.deepEqual(dead.map((d) => d.error), [
      `message.created ${noSender}: senderId must be a non-empty string`,
      `message.created ${newer}: unsupported schema version 99`,
      `message.created ${notJson}: payload is not JSON`,
    ]);
    assert.deepEqual(dead.map((d) => d.deliveries), [1, 1, 1], 'dead-lettered on the first delivery, not through claims');
    assert.equal(dead[1]?.v, 99, 'the dead letter keeps the entry\'s version (a replay writes it back as it was)');
    assert.deepEqual(handled, [0, 1, 2, 3, 4, 7, 8, 9, 10, 11].map((i) => message(i).data.id), 'the handler saw only entries that decode');
    assert.ok(calls >= 1);
  } finally {
    await running.stop();
  }
  // Replayed (once the code knows version 99), the entry goes back as it was: its version included.
  const [, newer] = await listDeadLetters(redis, tenant, group);
  const replayed = await replayDeadLetter(redis, tenant, group, newer!.id);
  const [entry] = await rangeAfter(redis, tenant, seqBefore(replayed!), replayed!, 1);
  assert.deepEqual([entry?.type, entry?.v, entry?.data, entry?.threadId], [EVENT.messageCreated, 99, newer!.data, 'th_1']);
});

test('a failure that is not the entry\'s data is retried through claims and dead-lettered after maxDeliveries', async () => {
  const group = groupName('poison_retry');
  const tenant = uniqueTenant('poison');
  const config = withProcessors({ batch: 50, blockMs: 200, claimIdleMs: 300, claimIntervalMs: 100, maxDeliveries: 3 });
  let poison: Seq | undefined;
  const handled = new Set<string>();
  const definition: ProcessorDefinition = {
    name: group,
    canHandle: () => true,
    async handle({ events }) {
      if (events.some((e) => e.data.includes('"m_000020"'))) throw new Error('handler bug');
      for (const e of events) handled.add(e.seq);
    },
  };
  await registerTenant(redis, tenant);
  const running = await startProcessorGroup({ definition, config, sql, log, consumers: 2, accept: (t) => t === tenant });
  try {
    const seqs: Seq[] = [];
    for (let i = 0; i < 41; i++) {
      const seq = await appendEvent(redis, tenant, message(i));
      if (i === 20) poison = seq;
      seqs.push(seq);
    }
    const [dead] = await waitFor('the dead letter', async () => {
      const l = await listDeadLetters(redis, tenant, group);
      return l.length ? l : null;
    });
    assert.equal(dead?.seq, poison);
    assert.equal(dead?.error, 'handler bug', 'the last error is the reason');
    assert.ok((dead?.deliveries ?? 0) > 3, `deliveries ${dead?.deliveries}`);
    await waitFor('nothing pending', () => settled(tenant, group));
    assert.equal(seqs.filter((s) => handled.has(s)).length, 40);
  } finally {
    await running.stop();
  }
});

test('kill -9 of a processor mid-burst: another one finishes, every message exactly once', { timeout: 120_000 }, async (t) => {
  const tenant = uniqueTenant('kill');
  const env = { CHORUS_CLAIM_IDLE_MS: '500', CHORUS_CLAIM_INTERVAL_MS: '200', CHORUS_PROCESSOR_BATCH: '50', LOG_LEVEL: 'info' };
  const started = (e: Record<string, unknown>) => e['msg'] === 'processor group started';
  const first = spawnRole(['processors/main', 'persist'], env);
  let second: ReturnType<typeof spawnRole> | undefined;
  try {
    await first.waitForLog(started);
    await registerTenant(redis, tenant);
    const N = 4000;
    await Promise.all(Array.from({ length: N }, (_, i) => appendEvent(redis, tenant, message(i))));
    const atKill = await waitFor('the burst being processed', async () => {
      const n = await countMessages(tenant);
      return n > 0 && n < N ? n : null;
    }, 60_000);
    first.kill('SIGKILL');
    await first.exited;
    const afterKill = await countMessages(tenant);
    const orphaned = (await groupStats(redis, tenant, 'persist'))?.pending;
    const state = `killed mid-burst: ${atKill} → ${afterKill} of ${N} persisted, ${orphaned} pending`;
    t.diagnostic(state);
    assert.ok(afterKill < N, state);

    second = spawnRole(['processors/main', 'persist'], env);
    await second.waitForLog(started);
    await waitFor('every message persisted', async () => (await countMessages(tenant)) === N, 90_000);
    await waitFor('nothing pending', () => settled(tenant, 'persist'));
    const ids = await withTenant(sql, tenant, (tx) => tx`select id from messages order by id`);
    assert.deepEqual(ids.map((r) => r['id']), Array.from({ length: N }, (_, i) => message(i).data.id));
    const archived = await withTenant(sql, tenant, (tx) => tx`select count(*)::int as n from event_archive`);
    assert.equal(archived[0]?.['n'], N);

    second.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.recentLogs());
    assert.ok(second.logs.some((e) => e['msg'] === 'stopped'));
  } finally {
    first.kill('SIGKILL');
    second?.kill('SIGKILL');
  }
});

test('an unknown processor group is a clear error with exit code 2', async () => {
  const p = spawnRole(['processors/main', 'no_such_group']);
  const { code } = await p.exited;
  assert.equal(code, 2);
  assert.ok(p.logs.some((e) => String(e['msg']).startsWith('unknown processor group "no_such_group"')), p.recentLogs());
});
