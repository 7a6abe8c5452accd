// Rebuild of the inbox and counters read models from the event log (stream + event_archive) while
// live traffic continues: no request fails, the live and rebuilt checksums agree, the swapped state
// is exact afterwards, and live events are not lost across the swap. A rebuild also repairs a
// corrupted live state, and says so (exit 1 from the CLI); a stream trimmed below its start is
// replayed from the archive.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createSql, withTenant, type Sql } from '../../core/db.js';
import type { Authenticator } from '../../core/auth.js';
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import type { ProcessorGroup } from '../../processors/group.js';
import { rebuildTenant, seqBefore, type RebuildResult } from '../../processors/rebuild.js';
import { headSeq } from '../../core/stream-commands.js';
import {
  Tenant, config, createAuthenticator, log, migrateDb, startTestGateway, testRedis, type TestGateway,
} from '../support/api.js';
import { REPO_ROOT, testEnv } from '../support/env.js';
import { Traffic, actualState, caughtUp, expectedState, people, rng, startGroups, stopGroups } from '../support/read-models.js';

let gw: TestGateway;
let auth: Authenticator;
let redis: RedisClient;
let sql: Sql;
let groups: ProcessorGroup[] = [];
const tenants = new Set<string>();
const unlimited = { rate: 0, burst: 1 };

before(async () => {
  await migrateDb(config);
  sql = createSql(config, { max: 8, app: 'test-rebuild' });
  redis = testRedis(config);
  auth = await createAuthenticator(config);
  gw = await startTestGateway(config, {
    rateLimits: { messageUser: unlimited, messageTenant: unlimited, emitUser: unlimited, emitTenant: unlimited, presenceReadUser: unlimited, devTokenClient: unlimited },
  });
  groups = await startGroups(config, sql, log, (t) => tenants.has(t));
});
after(async () => {
  await stopGroups(groups);
  await gw?.close();
  redis?.disconnect();
  await sql?.end({ timeout: 5 });
});

function tenant(): Tenant {
  const t = new Tenant(gw.api, auth, 'rb');
  tenants.add(t.id);
  return t;
}

/** `npm run chorus -- rebuild <kind> --tenant T` as a child process. */
async function cliRebuild(kind: string, tenantId: string): Promise<{ code: number | null; result: RebuildResult | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/ops/cli.js'), 'rebuild', kind, '--tenant', tenantId],
    { env: testEnv({ CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'error' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, result: out.trim() ? (JSON.parse(out.trim()) as RebuildResult) : null, stderr: err };
}

test('rebuild of counters and inbox under live traffic: checksums equal, no request errors, nothing lost', async () => {
  const t = tenant();
  const { users, admin } = await people(t, 5);
  const traffic = new Traffic(users, admin, rng(11));
  await traffic.run(150);
  await caughtUp(redis, t.id);

  // Live traffic (writes and inbox reads) for the whole time the rebuilds run.
  let stop = false;
  const readStatuses = new Map<number, number>();
  const live = Promise.all([
    (async () => { while (!stop) await traffic.op(); })(),
    (async () => {
      while (!stop) {
        for (const u of users) {
          const r = await u.api.get('/api/inbox', u.token);
          readStatuses.set(r.status, (readStatuses.get(r.status) ?? 0) + 1);
        }
      }
    })(),
  ]);
  let counters: Awaited<ReturnType<typeof cliRebuild>>;
  let inbox: RebuildResult;
  const opsBefore = [...traffic.statuses.values()].reduce((a, b) => a + b, 0);
  let opsDuring = 0;
  try {
    counters = await cliRebuild('counters', t.id);
    inbox = await rebuildTenant({ kind: 'inbox', sql, redis, tenantId: t.id, log });
    opsDuring = [...traffic.statuses.values()].reduce((a, b) => a + b, 0) - opsBefore;
  } finally {
    stop = true;
    await live;
  }
  assert.equal(counters.code, 0, counters.stderr);
  assert.ok(counters.result?.equal, JSON.stringify(counters.result));
  assert.ok(counters.result.events > 150);
  assert.equal(Object.keys(counters.result.checksums).length, 5);
  assert.ok(inbox.equal, JSON.stringify(inbox));
  assert.ok(opsDuring > 10, `writes went on during the rebuilds (${opsDuring})`);
  traffic.assertNoServerErrors();
  assert.deepEqual([...readStatuses.keys()], [200], JSON.stringify([...readStatuses]));

  // What came in during and after the swap was applied on top of the rebuilt state.
  await caughtUp(redis, t.id);
  assert.deepEqual(await actualState(sql, t.id), await expectedState(sql, t.id));
});

test('a corrupted live read model is repaired by the rebuild, which reports the difference (exit 1)', async () => {
  const t = tenant();
  const { users, admin } = await people(t, 4);
  await new Traffic(users, admin, rng(12)).run(80);
  await caughtUp(redis, t.id);
  await withTenant(sql, t.id, async (tx) => {
    await tx`update thread_user_counters set unread_count = unread_count + 7 where user_id = 'u1'`;
    await tx`update thread_inbox_projection set last_preview_text = 'corrupt'`;
  });
  const counters = await cliRebuild('counters', t.id);
  assert.equal(counters.code, 1);
  assert.match(counters.stderr, /differed/);
  assert.equal(counters.result?.equal, false);
  const c = counters.result!.checksums['thread_user_counters']!;
  assert.notEqual(c.live, c.rebuilt);
  assert.equal(counters.result!.checksums['counters_messages']!.live, counters.result!.checksums['counters_messages']!.rebuilt);
  const inbox = await rebuildTenant({ kind: 'inbox', sql, redis, tenantId: t.id, log });
  assert.equal(inbox.equal, false);
  assert.deepEqual(await actualState(sql, t.id), await expectedState(sql, t.id));
  // A second rebuild finds nothing to repair.
  assert.equal((await cliRebuild('counters', t.id)).code, 0);
});

test('entries trimmed from the stream are replayed from event_archive', async () => {
  const t = tenant();
  const { users, admin } = await people(t, 4);
  const traffic = new Traffic(users, admin, rng(13));
  await traffic.run(60);
  await caughtUp(redis, t.id);
  // Retention: everything up to here is gone from the stream (every group finished it).
  const lastId = await headSeq(redis, t.id);
  await traffic.run(20);
  await caughtUp(redis, t.id);
  await redis.xtrim(keys.events(t.id), 'MINID', seqBefore(lastId));
  assert.ok(Number(await redis.xlen(keys.events(t.id))) < 40);
  for (const kind of ['counters', 'inbox'] as const) {
    const r = await rebuildTenant({ kind, sql, redis, tenantId: t.id, log });
    assert.ok(r.equal, JSON.stringify(r));
  }
  assert.deepEqual(await actualState(sql, t.id), await expectedState(sql, t.id));
});

test('one rebuild of a model per tenant at a time; usage errors exit 2', async () => {
  const t = tenant();
  await redis.set(keys.rebuildLock(t.id, 'inbox'), 'someone', 'PX', 10_000);
  await assert.rejects(rebuildTenant({ kind: 'inbox', sql, redis, tenantId: t.id, log }), /already running/);
  await redis.del(keys.rebuildLock(t.id, 'inbox'));
  assert.equal((await cliRebuild('nonsense', t.id)).code, 2);
  assert.equal((await cliRebuild('inbox', 'bad id!')).code, 2);
});
