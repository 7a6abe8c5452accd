// The local stack keeps the promises the rest of Chorus builds on: Redis fsyncs every write before
// it answers (a 202 survives kill -9 of Redis), the application's Postgres role is bound by
// row-level security, and migrations are applied exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRedis } from '../../core/redis.js';
import { createSql } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import { appendEvent, rangeAfter } from '../../core/stream-commands.js';
import { EVENT } from '../../core/events/index.js';
import { ZERO_SEQ, type Seq } from '../../core/seq.js';
import { startLocalRedis } from '../../ops/local-redis.js';
import { runMigrations, usesLocalPostgres, usesLocalRedis } from '../../ops/services.js';
import { REPO_ROOT, testConfig, uniqueTenant } from '../support/env.js';

const log = createLogger({ role: 'test', level: 'warn' });
const config = testConfig();

test('the local Redis answers and fsyncs its AOF on every write', { skip: !usesLocalRedis(config) && 'external Redis' }, async () => {
  const r = createRedis(config, { name: 'test-stack' });
  try {
    assert.equal(await r.ping(), 'PONG');
    assert.deepEqual(await r.config('GET', 'appendonly'), ['appendonly', 'yes']);
    assert.deepEqual(await r.config('GET', 'appendfsync'), ['appendfsync', 'always']);
    assert.deepEqual(await r.config('GET', 'port'), ['port', '0'], 'no TCP listener unless asked for');
  } finally {
    r.disconnect();
  }
});

test('acknowledged XADDs survive kill -9 of Redis', async (t) => {
  // A Redis of its own: killing the shared test Redis would disturb the other tests.
  const dataDir = path.join(config.dataDir, `tmp-${crypto.randomBytes(4).toString('hex')}`);
  const own = testConfig({ CHORUS_DATA_DIR: dataDir, REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined });
  const redis = await startLocalRedis(own, log);
  t.after(async () => {
    await redis.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    // Long checkout paths put the sockets under /tmp/chorus-<hash> instead of the data dir.
    fs.rmSync(own.socketDir, { recursive: true, force: true });
  });
  assert.equal(redis.reused, false);

  const tenant = uniqueTenant('crash');
  const written: Seq[] = [];
  const r = createRedis(own, { name: 'test-crash' });
  try {
    for (let i = 0; i < 50; i++) {
      const data = { id: `m_${i}`, threadId: 'th_crash', senderId: 'alice', body: `${i}`, mentions: [], attachmentIds: [] };
      written.push(await appendEvent(r, tenant, { type: EVENT.messageCreated, data, threadId: 'th_crash', actor: 'alice' }));
    }
  } finally {
    r.disconnect();
  }

  const killedPid = redis.pid;
  await redis.kill9();
  assert.equal(redis.isAlive(), false);
  await redis.restart();
  assert.notEqual(redis.pid, killedPid);

  const r2 = createRedis(own, { name: 'test-crash-after' });
  try {
    const events = await rangeAfter(r2, tenant, ZERO_SEQ, '+', 1000);
    assert.deepEqual(events.map((e) => e.seq), written);
    assert.equal(JSON.parse(events[49]?.data ?? '{}').id, 'm_49');
  } finally {
    r2.disconnect();
  }

  // A second start for the same data dir adopts the running instance instead of failing.
  const again = await startLocalRedis(own, log);
  assert.equal(again.reused, true);
  assert.equal(again.pid, redis.pid);
});

test('the application role is neither superuser nor exempt from row-level security', async () => {
  const sql = createSql(config, { max: 1, app: 'test-stack' });
  try {
    const rows = await sql<{ name: string; rolsuper: boolean; rolbypassrls: boolean }[]>`
      select current_user as name, rolsuper, rolbypassrls from pg_roles where rolname = current_user`;
    assert.equal(rows.length, 1);
    if (usesLocalPostgres(config)) assert.equal(rows[0]?.name, 'chorus');
    assert.equal(rows[0]?.rolsuper, false);
    assert.equal(rows[0]?.rolbypassrls, false);
  } finally {
    await sql.end({ timeout: 5 });
  }
});

test('every migration is applied once, and migrating again changes nothing', async () => {
  const files = fs.readdirSync(path.join(REPO_ROOT, 'migrations')).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  assert.ok(files.length > 0);
  const sql = createSql(config, { max: 1, app: 'test-stack' });
  try {
    const versions = async () => (await sql<{ version: string }[]>`select version from schema_migrations order by version`).map((r) => r.version);
    assert.deepEqual(await runMigrations(config, log), [], 'ops/test.sh migrated before the tests');
    assert.deepEqual(await versions(), files);
    const [twice] = await Promise.all([runMigrations(config, log), runMigrations(config, log)]);
    assert.deepEqual(twice, []);
    assert.deepEqual(await versions(), files);
  } finally {
    await sql.end({ timeout: 5 });
  }
});
