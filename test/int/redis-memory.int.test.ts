// Bounded Redis memory (issue 12, move 7): what a message leaves in Redis besides its stream entries
// (the metadata hash, the idempotency key, the in-app once-only markers of its recipients) expires
// within the replay window, CHORUS_STREAM_RETENTION_MS; the streams themselves are trimmed to it. So
// Redis holds the retention window's messages, not every message ever sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSql, type Sql } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import type { ProcessorGroup } from '../../processors/group.js';
import {
  config as baseConfig, createAuthenticator, migrateDb, startTestGateway, testRedis, waitFor, Tenant, type TestGateway,
} from '../support/api.js';
import { ensureSinks, notifyTestConfig, startNotifyGroups } from '../support/notify.js';

const PREFIX = 'rmem';
const log = createLogger({ role: 'test', level: 'fatal' });
const config = notifyTestConfig(baseConfig);
let gw: TestGateway;
let sql: Sql;
let redis: RedisClient;
let groups: ProcessorGroup[] = [];
let sinks: { stop(): Promise<void> };
let auth: Awaited<ReturnType<typeof createAuthenticator>>;

before(async () => {
  await migrateDb(config);
  sql = createSql(config, { max: 4, app: 'test-redis-memory' });
  redis = testRedis(config);
  sinks = await ensureSinks(config, log);
  gw = await startTestGateway(config);
  auth = await createAuthenticator(config);
  groups = await startNotifyGroups(config, sql, log, (t) => t.startsWith(`${PREFIX}_`), ['intents', 'inApp']);
});

after(async () => {
  await Promise.all(groups.map((g) => g.stop()));
  await gw?.close();
  await sql?.end({ timeout: 5 });
  redis?.disconnect();
  await sinks?.stop();
});

async function tenantKeys(tenantId: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `chorus:{${tenantId}}:*`, 'COUNT', 500);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

test('no key a message leaves in Redis outlives the replay window (CHORUS_STREAM_RETENTION_MS)', async () => {
  const t = new Tenant(gw.api, auth, PREFIX);
  const [alice, bob, carol] = await Promise.all([t.user('alice'), t.user('bob'), t.user('carol')]);
  const th = await alice.thread(['bob', 'carol']);
  const before = new Set(await tenantKeys(t.id));
  await alice.say(th.id, 'what does this cost', { clientMessageId: 'c-1' });
  for (const u of [bob, carol]) {
    await waitFor(`${u.userId}'s in-app notification`, async () => (await u.api.get('/api/notifications', u.token)).body.notifications.length === 1, 10_000);
  }
  // The feed row comes before the event and its markers (row first): wait for the markers too.
  const added = await waitFor('the in-app markers', async () => {
    const now = (await tenantKeys(t.id)).filter((k) => !before.has(k));
    return now.filter((k) => k.includes(':notify:done:')).length === 2 ? now : undefined;
  }, 10_000);
  const windowS = config.streams.retentionMs / 1000;
  const perMessage: string[] = [];
  for (const k of added) {
    if ((await redis.type(k)) === 'stream') continue; // trimmed to the window by the trimmers
    const ttl = await redis.ttl(k);
    assert.ok(ttl > 0 && ttl <= windowS, `${k}: TTL ${ttl} s, the replay window is ${windowS} s`);
    perMessage.push(k);
  }
  // The check saw what it is about: the metadata hash, the idempotency key, a marker per recipient
  // (and the sender's rate-limit buckets, which expire once full again).
  assert.equal(perMessage.filter((k) => k.includes(':msg:m_')).length, 1, added.join('\n'));
  assert.equal(perMessage.filter((k) => k.includes(':idem:')).length, 1, perMessage.join('\n'));
  assert.equal(perMessage.filter((k) => k.includes(':notify:done:')).length, 2, perMessage.join('\n'));
});
