// Contract sections 2 (429 with Retry-After) and 3 (typing, error frames, floods), plus the gateway's
// protections: shared rate limits, connection caps, origin allow-list, the typing feature flag.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, testRedis, assertError, sleep, type Reply, type TestGateway } from '../support/api.js';
import { WsClient, closeAll } from '../support/ws-client.js';
import type { Authenticator } from '../../core/auth.js';
import type { RedisClient } from '../../core/redis.js';
import { setFlag } from '../../core/flags.js';
import { keys, rateKeys } from '../../core/keys.js';

let gw: TestGateway;
let gw2: TestGateway;
let auth: Authenticator;
let redis: RedisClient;
const clients: WsClient[] = [];

before(async () => {
  await migrateDb(config);
  auth = await createAuthenticator(config);
  redis = testRedis(config);
  await redis.hdel(keys.flags(), 'typing');
  const limited = {
    rateLimits: { ...config.rateLimits, messageUser: { rate: 2, burst: 3 }, emitUser: { rate: 1, burst: 3 }, presenceReadUser: { rate: 1, burst: 3 } },
    gateway: { ...config.gateway, maxConnPerUser: 2, allowedOrigins: ['https://app.example'] as string[], framesPerS: 5, framesBurst: 10 },
  };
  gw = await startTestGateway(config, limited);
  gw2 = await startTestGateway(config, limited);
});

after(async () => {
  await closeAll(clients);
  await redis.hdel(keys.flags(), 'typing');
  await gw?.close();
  await gw2?.close();
  redis?.disconnect();
});

async function open(t: TestGateway, token: string, headers?: Record<string, string>) {
  const { client, hello } = await WsClient.open(t.wsUrl, { token, headers });
  clients.push(client);
  return { client, hello };
}

/**
 * Six calls alternating between the two gateways: a bucket shared by both (burst 3) lets at most
 * four through (burst plus refill), then answers 429 rate_limited with Retry-After.
 */
async function assertSharedBucket(call: (i: number) => Promise<Reply>, okStatus: number): Promise<void> {
  const statuses: number[] = [];
  let limited: Reply | undefined;
  for (let i = 0; i < 6; i++) {
    const r = await call(i);
    statuses.push(r.status);
    if (r.status === 429) limited = r;
  }
  assert.ok(statuses.filter((s) => s === okStatus).length <= 4, `burst 3 (+ refill) must be shared: ${statuses}`);
  assert.ok(limited, `expected a 429 among ${statuses}`);
  assertError(limited, 429, 'rate_limited');
  assert.match(String(limited.headers['retry-after']), /^\d+$/);
}

test('message sends over the per-user bucket get 429 with Retry-After, shared by every gateway', async () => {
  const t = new Tenant(gw.api, auth, 'rl');
  const alice = await t.user('alice');
  const th = await alice.thread([]);
  const alice2 = t.on(gw2.api, alice);
  await assertSharedBucket((i) => (i % 2 ? alice2 : alice).post({ threadId: th.id, body: `m${i}` }), 202);
  // Another user of the tenant is not affected by alice's bucket.
  const bob = await t.user('bob');
  const th2 = await bob.thread([]);
  assert.equal((await bob.post({ threadId: th2.id, body: 'fine' })).status, 202);
});

test('a message refused by the tenant bucket takes no token from the user bucket (both are taken in the append, or neither)', async () => {
  const tight = await startTestGateway(config, {
    rateLimits: { ...config.rateLimits, messageUser: { rate: 2, burst: 3 }, messageTenant: { rate: 0.01, burst: 2 } },
  });
  try {
    const t = new Tenant(tight.api, auth, 'rlt');
    const alice = await t.user('alice');
    const th = await alice.thread([]);
    assert.equal((await alice.post({ threadId: th.id, body: 'one' })).status, 202);
    assert.equal((await alice.post({ threadId: th.id, body: 'two' })).status, 202);
    const userBucket = rateKeys.bucket(t.id, 'msg:user', 'alice');
    const before = await redis.hgetall(userBucket);
    const refused = await alice.post({ threadId: th.id, body: 'three' });
    assertError(refused, 429, 'rate_limited');
    assert.match(JSON.stringify(refused.body), /tenant/);
    assert.deepEqual(await redis.hgetall(userBucket), before, 'the refused write left the user bucket untouched');
  } finally {
    await tight.close();
  }
});

test('presence reads over the per-user bucket get 429 with Retry-After, shared by every gateway', async () => {
  const t = new Tenant(gw.api, auth, 'rlp');
  const alice = await t.user('alice');
  await assertSharedBucket((i) => (i % 2 ? gw2 : gw).api.get('/api/presence?userIds=bob,carol', alice.token), 200);
  // Another user of the tenant has a bucket of their own, and alice's message budget is untouched.
  const bob = await t.user('bob');
  assert.equal((await gw.api.get('/api/presence?userIds=alice', bob.token)).status, 200);
  const th = await alice.thread([]);
  assert.equal((await alice.post({ threadId: th.id, body: 'still allowed' })).status, 202);
});

test('a user over the connection cap is refused at the upgrade with 429', async () => {
  const t = new Tenant(gw.api, auth, 'cap');
  const u = await t.user('carol');
  await open(gw, u.token);
  await open(gw, u.token);
  const refused = await WsClient.refused(gw.wsUrl, { token: u.token });
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'too_many_connections');
});

test('browsers from an origin outside the allow-list are refused with 403; allowed origins connect', async () => {
  const t = new Tenant(gw.api, auth, 'origin');
  const u = await t.user('dave');
  const refused = await WsClient.refused(gw.wsUrl, { token: u.token, headers: { origin: 'https://evil.example' } });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'origin_not_allowed');
  const { hello } = await open(gw, u.token, { origin: 'https://app.example' });
  assert.equal(hello.type, 'hello');
});

test('typing reaches the other participants on every gateway, not the typer, not outsiders', async () => {
  const t = new Tenant(gw.api, auth, 'typing');
  const [a, b, c] = await Promise.all([t.user('a'), t.user('b'), t.user('c')]);
  const th = await a.thread(['b']);
  const ca = (await open(gw, a.token)).client;
  const cb = (await open(gw2, b.token)).client;
  const cc = (await open(gw, c.token)).client;
  await sleep(100);
  ca.send({ type: 'typing', data: { threadId: th.id } });
  const f = await cb.waitFor((x) => x.type === 'typing', 3000, 'typing on the other gateway');
  assert.deepEqual(f.data, { threadId: th.id, userId: 'a' });
  assert.equal(f.seq, undefined, 'typing is best-effort and not from the stream: no seq');
  await sleep(200);
  assert.equal(ca.frames.filter((x) => x.type === 'typing').length, 0);
  assert.equal(cc.frames.filter((x) => x.type === 'typing').length, 0);
  // An outsider cannot type into the thread.
  cc.send({ type: 'typing', threadId: th.id });
  const err = await cc.waitFor((x) => x.type === 'error');
  assert.equal(err.data.code, 'not_participant');
});

test('the typing flag switches typing off at runtime', async () => {
  const t = new Tenant(gw.api, auth, 'flag');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const th = await a.thread(['b']);
  const ca = (await open(gw, a.token)).client;
  const cb = (await open(gw, b.token)).client;
  await setFlag(redis, 'typing', false);
  await gw.gateway.flags.refresh();
  ca.send({ type: 'typing', threadId: th.id });
  const err = await ca.waitFor((x) => x.type === 'error');
  assert.equal(err.data.code, 'feature_disabled');
  await sleep(200);
  assert.equal(cb.frames.filter((x) => x.type === 'typing').length, 0);
  await setFlag(redis, 'typing', true);
  await gw.gateway.flags.refresh();
  ca.send({ type: 'typing', threadId: th.id });
  await cb.waitFor((x) => x.type === 'typing');
});

test('typing emits over the shared per-user bucket get rate_limited error frames', async () => {
  const t = new Tenant(gw.api, auth, 'emit');
  const [a] = await Promise.all([t.user('a')]);
  const th = await a.thread([]);
  const ca = (await open(gw, a.token)).client;
  for (let i = 0; i < 9; i++) ca.send({ type: 'typing', threadId: th.id });
  const err = await ca.waitFor((x) => x.type === 'error' && x.data.code === 'rate_limited', 3000);
  assert.equal(err.data.code, 'rate_limited');
  assert.ok(ca.isOpen, 'a few refused emits do not close the connection');
});

test('a frame flood gets rate_limited errors and then closes only that connection with 1008', async () => {
  const t = new Tenant(gw.api, auth, 'flood');
  const [a, b] = await Promise.all([t.user('a'), t.user('b')]);
  const ca = (await open(gw, a.token)).client;
  const cb = (await open(gw, b.token)).client;
  for (let i = 0; i < 40; i++) ca.send({ type: 'ping' });
  const closed = await ca.closed;
  assert.equal(closed.code, 1008);
  assert.ok(ca.frames.some((f) => f.type === 'error' && f.data.code === 'rate_limited'));
  assert.ok(ca.frames.some((f) => f.type === 'pong'), 'frames within the burst are answered');
  cb.send({ type: 'ping' });
  await cb.waitFor((f) => f.type === 'pong');
  assert.ok(cb.isOpen);
});
