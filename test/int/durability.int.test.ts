// "202 means durable: the message survives a crash of any process, Redis included" (contract
// section 2). A private Redis is killed with SIGKILL right after a burst of 202s and restarted from
// its AOF: every accepted message is still in the stream, persisted to Postgres, and delivered to a
// participant's websocket (live, or by resuming with lastSeq).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, waitFor, streamOf, log, stopRole, type TestGateway } from '../support/api.js';
import { testConfig, spawnRole, type RoleProcess } from '../support/env.js';
import { WsClient, closeAll } from '../support/ws-client.js';
import { startLocalRedis, type LocalRedis } from '../../ops/local-redis.js';
import { createRedis, type RedisClient } from '../../core/redis.js';
import type { Config } from '../../config/index.js';
import { compareSeq, type Seq } from '../../core/seq.js';

let redisServer: LocalRedis;
let cfg: Config;
let gw: TestGateway;
let persist: RoleProcess | undefined;
let r: RedisClient;
const clients: WsClient[] = [];
const tmpDir = path.join(config.dataDir, `tmp-durability-${process.pid}`);

before(async () => {
  await migrateDb(config);
  const own = testConfig({ CHORUS_DATA_DIR: tmpDir });
  redisServer = await startLocalRedis(own, log);
  // The burst is larger than a user's default send bucket: this test is about durability, not limits.
  cfg = {
    ...config,
    redis: { ...config.redis, url: own.redis.socketPath, socketPath: own.redis.socketPath },
    rateLimits: { ...config.rateLimits, messageUser: { rate: 0, burst: 1 } },
  };
  gw = await startTestGateway(cfg);
  persist = spawnRole(['processors/main', 'persist', '--consumers', '1'], {
    CHORUS_DATA_DIR: config.dataDir, REDIS_URL: own.redis.socketPath, LOG_LEVEL: 'warn',
    CHORUS_CLAIM_IDLE_MS: '1000', CHORUS_CLAIM_INTERVAL_MS: '300',
  });
  r = createRedis(cfg, { name: 'test-durability' });
  r.on('error', () => undefined); // the server is killed on purpose; commands retry after restart
});

after(async () => {
  await closeAll(clients);
  if (redisServer && !redisServer.isAlive()) await redisServer.restart();
  await stopRole(persist);
  await gw?.close();
  r?.disconnect();
  await redisServer?.stop();
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

test('kill -9 of Redis right after a burst of 202s loses no accepted message', async () => {
  const auth = await createAuthenticator(cfg);
  const t = new Tenant(gw.api, auth, 'dur');
  const alice = await t.user('alice');
  const bob = await t.user('bob');
  const th = await alice.thread(['bob']);
  const { client: ws } = await WsClient.open(gw.wsUrl, { token: bob.token });
  clients.push(ws);

  // A burst of parallel sends; remember exactly what was acknowledged.
  const accepted: { id: string; seq: string }[] = [];
  await Promise.all(Array.from({ length: 10 }, async (_, lane) => {
    for (let i = 0; i < 20; i++) {
      const res = await alice.post({ threadId: th.id, body: `burst ${lane}-${i}`, clientMessageId: `c${lane}x${i}` });
      if (res.status === 202) accepted.push({ id: res.body.message.id, seq: res.body.message.seq });
    }
  }));
  await redisServer.kill9();
  assert.equal(accepted.length, 200, 'every send before the crash was accepted');

  await redisServer.restart();
  const entries = await waitFor('the stream after restart', async () => {
    const es = await streamOf(r, t.id);
    return es.length ? es : undefined;
  }, 20_000);
  const inStream = new Set(entries.filter((e) => e.type === 'message.created').map((e) => e.seq as string));
  for (const a of accepted) assert.ok(inStream.has(a.seq), `accepted ${a.seq} survived the crash`);

  // Persisted to Postgres, each exactly once.
  const all = await waitFor('every accepted message in the timeline', async () => {
    const seen = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const page = await alice.timeline(th.id, `limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (page.status !== 200) return undefined;
      for (const m of page.body.messages) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
      cursor = page.body.nextCursor;
    } while (cursor);
    return accepted.every((a) => seen.get(a.id) === 1) ? seen : undefined;
  }, 30_000, 250);
  assert.equal(all.size, 200);

  // Delivered: what the socket got live, plus a resume from its last seq, covers every message once.
  const live = ws.frames.filter((f) => f.type === 'message.created').map((f) => f.seq as string);
  const last = live.length ? live[live.length - 1] : (await ws.waitFor((f) => f.type === 'hello')).data.headSeq;
  await ws.close();
  const { client: again, hello } = await WsClient.open(gw.wsUrl, { token: bob.token, lastSeq: last });
  clients.push(again);
  assert.equal(hello.data.resumed, true);
  await waitFor('the resumed socket to catch up', async () =>
    again.frames.filter((f) => f.type === 'message.created').length >= 200 - live.length || undefined, 10_000);
  const delivered = [...live, ...again.frames.filter((f) => f.type === 'message.created').map((f) => f.seq as string)];
  assert.equal(new Set(delivered).size, delivered.length, 'no duplicates');
  for (const a of accepted) assert.ok(delivered.includes(a.seq), `message ${a.seq} delivered`);
  const sorted = [...delivered].sort((x, y) => compareSeq(x as Seq, y as Seq));
  assert.deepEqual(delivered, sorted, 'in seq order');
});
