// Exactly one email when the email consumer is killed with -9 in the middle of a send: the SMTP
// sink receives the message but the consumer dies before it can record the outcome; after its lease
// lapses another consumer claims the job and sends again with the same Message-ID, which the sink
// drops as a duplicate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSql, type Sql } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import { keys } from '../../core/keys.js';
import type { RedisClient } from '../../core/redis.js';
import type { ProcessorGroup } from '../../processors/group.js';
import { notificationIdOf } from '../../workers/notify/jobs.js';
import { spawnRole, type RoleProcess } from '../support/env.js';
import { config as baseConfig, createAuthenticator, migrateDb, startTestGateway, testRedis, waitFor, sleep, Tenant, type TestGateway } from '../support/api.js';
import { attemptsOf, ensureSinks, mailsOf, notifyTestConfig, setSink, startNotifyGroups } from '../support/notify.js';

const log = createLogger({ role: 'test', level: 'fatal' });
const config = notifyTestConfig(baseConfig);
let gw: TestGateway;
let sql: Sql;
let redis: RedisClient;
let groups: ProcessorGroup[] = [];
let sinks: { stop(): Promise<void> };
const children: RoleProcess[] = [];

before(async () => {
  await migrateDb(config);
  sql = createSql(config, { max: 4, app: 'test-notify-crash' });
  redis = testRedis(config);
  sinks = await ensureSinks(config, log);
  gw = await startTestGateway(config);
  // Everything but email runs here; email runs in child processes that the test kills.
  groups = await startNotifyGroups(config, sql, log, (t) => t.startsWith('ncr_'), ['intents', 'inApp', 'push']);
});

after(async () => {
  setSink(config, 'smtp-sink', {});
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await Promise.all(groups.map((g) => g.stop()));
  await gw?.close();
  await sql?.end({ timeout: 5 });
  redis?.disconnect();
  await sinks?.stop();
});

function emailConsumer(): RoleProcess {
  const p = spawnRole(['processors/main', 'notify-email', '--consumers', '1'], {
    CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'info', CHORUS_CLAIM_IDLE_MS: '1000', CHORUS_CLAIM_INTERVAL_MS: '200',
    CHORUS_PROCESSOR_BLOCK_MS: '200', CHORUS_NOTIFY_SEND_TIMEOUT_MS: '2000', CHORUS_NOTIFY_TICK_MS: '25',
  });
  children.push(p);
  return p;
}

test('kill -9 of the email consumer mid-send: the job is taken over and exactly one email is stored', async () => {
  const auth = await createAuthenticator(config);
  const t = new Tenant(gw.api, auth, 'ncr');
  const [alice, bob] = await Promise.all([t.user('alice'), t.user('bob')]);
  const r = await bob.api.request('PUT', '/api/notification-preferences', {
    token: bob.token, json: { channels: { inApp: true, email: true, push: false }, email: 'bob@example.test' },
  });
  assert.equal(r.status, 200);
  setSink(config, 'smtp-sink', { tenant: t.id, delayMs: 3000 });

  const first = emailConsumer();
  await first.waitForLog((e) => e['msg'] === 'processor group started', 15_000);
  const m = await alice.say((await alice.thread(['bob'])).id, 'exactly once, please');
  const lease = keys.notifyLease(t.id, notificationIdOf(m.id, 'bob'), 'email');
  await waitFor('the first consumer to start sending', async () => (await redis.exists(lease)) === 1, 15_000, 10);
  await sleep(300); // the SMTP transaction is under way: the sink holds the message and delays its answer
  first.kill('SIGKILL');
  await first.exited;
  setSink(config, 'smtp-sink', {});

  const second = emailConsumer();
  const sent = await waitFor('the email status to be sent', async () => {
    const x = await bob.api.get(`/api/notifications/explain?messageId=${m.id}`, bob.token);
    return x.body?.channels?.email?.status === 'sent' ? x : undefined;
  }, 30_000, 100);
  assert.ok(sent);
  await waitFor('both sends to reach the sink', async () => attemptsOf(config, 'smtp-sink', t.id).length >= 2, 10_000, 50);
  const attempts = attemptsOf(config, 'smtp-sink', t.id);
  assert.equal(new Set(attempts.map((a) => a.key)).size, 1, 'one Message-ID');
  assert.deepEqual(attempts.map((a) => a.outcome).sort(), ['duplicate', 'stored'], 'the resend was dropped as a duplicate');
  assert.equal(mailsOf(config, t.id).length, 1, 'exactly one email');
  second.kill('SIGTERM');
  await second.exited;
});
