// Security finding (issue #13, medium): the typing fanout budget was one per gateway, so a tenant
// that fanned out enough typing frames switched typing off for every tenant on that gateway for
// 30 s. The budget is per tenant now: the noisy tenant gets `feature_disabled`, the others keep typing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, testRedis, type TestGateway } from '../support/api.js';
import { WsClient, closeAll } from '../support/ws-client.js';
import type { Authenticator } from '../../core/auth.js';
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';

/**
 * Typing frames this gateway may fan out per tenant per second in this test: below the number of
 * peers, so that a single typing frame of the noisy tenant crosses it (no dependence on timing).
 */
const BUDGET = 2;
const PEERS = 4;

let gw: TestGateway;
let auth: Authenticator;
let redis: RedisClient;
const clients: WsClient[] = [];

before(async () => {
  await migrateDb(config);
  auth = await createAuthenticator(config);
  redis = testRedis(config);
  await redis.hdel(keys.flags(), 'typing'); // the global flag at its default (on)
  gw = await startTestGateway(config, {
    gateway: { ...config.gateway, typingBudgetPerS: BUDGET },
    // The emit buckets are not what this test is about: wide enough for the flood.
    rateLimits: { ...config.rateLimits, emitUser: { rate: 100, burst: 100 }, emitTenant: { rate: 1000, burst: 1000 } },
  });
});

after(async () => {
  await closeAll(clients);
  await gw?.close();
  redis?.disconnect();
});

async function open(token: string): Promise<WsClient> {
  const { client } = await WsClient.open(gw.wsUrl, { token });
  clients.push(client);
  return client;
}

const typingFrom = (userId: string) => (f: { type: string; data: any }) => f.type === 'typing' && f.data?.userId === userId;

test('a tenant over its typing budget gets feature_disabled; another tenant keeps typing on the same gateway', async () => {
  // Tenant A: one typer and PEERS connected participants, so each typing frame fans out PEERS times.
  const a = new Tenant(gw.api, auth, 'noisy');
  const typer = await a.user('typer');
  const peerUsers = await Promise.all(Array.from({ length: PEERS }, (_, i) => a.user(`peer${i}`)));
  const thA = await typer.thread(peerUsers.map((p) => p.userId));
  const typerWs = await open(typer.token);
  const peers = await Promise.all(peerUsers.map((p) => open(p.token)));

  // Tenant B: a quiet pair on the same gateway.
  const b = new Tenant(gw.api, auth, 'quiet');
  const [b1, b2] = await Promise.all([b.user('b1'), b.user('b2')]);
  const thB = await b1.thread(['b2']);
  const b1Ws = await open(b1.token);
  const b2Ws = await open(b2.token);

  // One typing frame fans out to PEERS > BUDGET connections: the fanout stops at the budget and
  // tenant A is suspended on this gateway. Once any peer has the frame, that fanout is over.
  typerWs.send({ type: 'typing', threadId: thA.id });
  await Promise.any(peers.map((p) => p.waitFor(typingFrom('typer'), 5000, 'the first typing frame')));
  typerWs.send({ type: 'typing', threadId: thA.id });
  const refused = await typerWs.waitFor((f) => f.type === 'error', 5000, 'feature_disabled for the noisy tenant');
  assert.equal(refused.data.code, 'feature_disabled');

  // Tenant B is not tenant A's neighbour in distress: its typing still reaches its peer.
  b1Ws.send({ type: 'typing', threadId: thB.id });
  const got = await b2Ws.waitFor(typingFrom('b1'), 5000, 'tenant B typing while tenant A is suspended');
  assert.deepEqual(got.data, { threadId: thB.id, userId: 'b1' });
  assert.equal(b1Ws.frames.filter((f) => f.type === 'error').length, 0, `tenant B got no error: ${b1Ws.describe()}`);
  assert.ok(gw.gateway.flags.enabled('typing'), 'the global typing flag stays on');
  const reached = peers.filter((p) => p.frames.some(typingFrom('typer'))).length;
  assert.ok(reached <= BUDGET, `the noisy tenant's fanout stops at the budget: ${reached} peers got typing`);
});
