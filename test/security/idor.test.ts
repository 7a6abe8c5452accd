// Standing attack suite: cross-tenant and non-participant access to every HTTP route and every
// websocket frame that names an id. Another tenant's ids behave like ids that do not exist in the
// caller's tenant (the tenant comes from the token, and every key and row is tenant-scoped); a
// non-participant of the caller's own tenant gets 403 not_participant. docs/security.md lists each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, sleep, streamOf, testRedis, type Reply, type TestGateway, type User } from '../support/api.js';
import { WsClient, closeAll } from '../support/ws-client.js';
import type { Authenticator } from '../../core/auth.js';

let gw: TestGateway;
let auth: Authenticator;
const clients: WsClient[] = [];
let alice: User;
let eve: User; // same tenant as alice, not a participant
let mallory: User; // another tenant
let threadId: string;
let messageId: string;
let attachmentId: string;

before(async () => {
  await migrateDb(config);
  auth = await createAuthenticator(config);
  gw = await startTestGateway(config);
  const a = new Tenant(gw.api, auth, 'victim');
  [alice, eve] = await Promise.all([a.user('alice'), a.user('eve')]);
  await a.user('bob');
  mallory = await new Tenant(gw.api, auth, 'attacker').user('mallory');
  threadId = (await alice.thread(['bob'], 'secret plans')).id;
  messageId = (await alice.say(threadId, 'the secret')).id;
  const att = await gw.api.post('/api/attachments', alice.token, { filename: 'plan.txt', contentType: 'text/plain', size: 5 });
  assert.equal(att.status, 201, att.text);
  attachmentId = att.body.attachment.id;
});

after(async () => {
  await closeAll(clients);
  await gw?.close();
});

type Call = (u: User) => Promise<Reply>;

/** Every route that takes an id of another user's data, with what a stranger may not do. */
const routes: [string, Call][] = [
  ['GET /api/threads/:id', (u) => gw.api.get(`/api/threads/${threadId}`, u.token)],
  ['POST /api/threads/:id/participants', (u) => gw.api.post(`/api/threads/${threadId}/participants`, u.token, { userId: u.userId })],
  ['DELETE /api/threads/:id/participants/:userId', (u) => gw.api.del(`/api/threads/${threadId}/participants/bob`, u.token)],
  ['GET /api/threads/:id/messages', (u) => gw.api.get(`/api/threads/${threadId}/messages`, u.token)],
  ['POST /api/messages', (u) => gw.api.post('/api/messages', u.token, { threadId, body: 'let me in' })],
  ['PATCH /api/messages/:id', (u) => gw.api.patch(`/api/messages/${messageId}`, u.token, { body: 'rewritten' })],
  ['DELETE /api/messages/:id', (u) => gw.api.del(`/api/messages/${messageId}`, u.token)],
  ['POST /api/threads/:id/read', (u) => gw.api.post(`/api/threads/${threadId}/read`, u.token, { lastReadMessageId: messageId })],
  ['GET /api/attachments/:id', (u) => gw.api.get(`/api/attachments/${attachmentId}`, u.token)],
  ['POST /api/attachments/:id/complete', (u) => gw.api.post(`/api/attachments/${attachmentId}/complete`, u.token)],
  ['POST /api/messages with attachmentIds', (u) => u.thread([]).then((th) => gw.api.post('/api/messages', u.token, { threadId: th.id, body: 'x', attachmentIds: [attachmentId] }))],
  ['GET /api/notifications/explain?messageId', (u) => gw.api.get(`/api/notifications/explain?messageId=${messageId}`, u.token)],
];

/** What each answers (status, code): another tenant's user, and a non-participant of the same tenant. */
const expected: Record<string, { crossTenant: [number, string]; nonParticipant: [number, string] }> = {
  'GET /api/threads/:id': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
  'POST /api/threads/:id/participants': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
  'DELETE /api/threads/:id/participants/:userId': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
  'GET /api/threads/:id/messages': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
  'POST /api/messages': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
  'PATCH /api/messages/:id': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'forbidden'] },
  'DELETE /api/messages/:id': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'forbidden'] },
  'POST /api/threads/:id/read': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
  'GET /api/attachments/:id': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'forbidden'] },
  'POST /api/attachments/:id/complete': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'forbidden'] },
  'POST /api/messages with attachmentIds': { crossTenant: [400, 'invalid_request'], nonParticipant: [400, 'invalid_request'] },
  'GET /api/notifications/explain?messageId': { crossTenant: [404, 'not_found'], nonParticipant: [403, 'not_participant'] },
};

function assertAnswer(r: Reply, [status, code]: [number, string], what: string): void {
  assert.equal(r.status, status, `${what}: ${r.text}`);
  assert.equal(r.body?.error?.code, code, `${what}: ${r.text}`);
}

test('another tenant\'s ids on every HTTP route: the same answer as an id that does not exist (no existence leak)', async () => {
  for (const [name, call] of routes) {
    assertAnswer(await call(mallory), expected[name]!.crossTenant, `${name} (cross-tenant)`);
  }
  // The same answers for ids that exist nowhere, in mallory's own tenant.
  const ghost = [
    gw.api.get('/api/threads/th_does_not_exist', mallory.token),
    gw.api.get('/api/threads/th_does_not_exist/messages', mallory.token),
    gw.api.patch('/api/messages/m_does_not_exist', mallory.token, { body: 'x' }),
    gw.api.get('/api/attachments/att_does_not_exist', mallory.token),
  ];
  for (const r of await Promise.all(ghost)) assertAnswer(r, [404, 'not_found'], `ghost id ${r.text}`);
});

test('a non-participant of the same tenant on every HTTP route: 403 (or 400 for an attachment it may not use)', async () => {
  for (const [name, call] of routes) {
    assertAnswer(await call(eve), expected[name]!.nonParticipant, `${name} (non-participant)`);
  }
});

test('after every attempt the victim\'s data is untouched: her thread\'s stream holds only her own writes', async () => {
  const th = await alice.getThread(threadId);
  assert.deepEqual([...th.body.thread.participantIds].sort(), ['alice', 'bob']);
  const redis = testRedis(config);
  try {
    const events = (await streamOf(redis, alice.tenantId)).filter((e) => e.threadId === threadId);
    assert.deepEqual(events.map((e) => `${e.type} by ${e.actor}`), ['thread.created by alice', 'message.created by alice']);
  } finally {
    redis.disconnect();
  }
  const att = await gw.api.get(`/api/attachments/${attachmentId}`, alice.token);
  assert.equal(att.body.attachment.status, 'pending_upload');
});

test('a tenantId in a body that disagrees with the token → 403 tenant_mismatch', async () => {
  const r = await gw.api.post('/api/threads', mallory.token, { tenantId: alice.tenantId, participantIds: ['alice'] });
  assertAnswer(r, [403, 'tenant_mismatch'], 'POST /api/threads with another tenantId');
});

test('lists and presence never show another tenant: inbox, presence', async () => {
  const inbox = await gw.api.get('/api/inbox', mallory.token);
  assert.equal(inbox.status, 200);
  assert.ok(!inbox.body.threads.some((t: { threadId: string }) => t.threadId === threadId));
  const { client } = await WsClient.open(gw.wsUrl, { token: alice.token });
  clients.push(client);
  const seen = async (u: User) => (await gw.api.get('/api/presence?userIds=alice', u.token)).body.users[0].status as string;
  for (let i = 0; i < 50 && (await seen(eve)) !== 'online'; i++) await sleep(100);
  assert.equal(await seen(eve), 'online', 'alice is online for her own tenant');
  assert.equal(await seen(mallory), 'offline', 'another tenant\'s "alice" is somebody else');
});

test('websocket frames with another tenant\'s or a foreign thread id → error not_participant; no event of that thread is delivered', async () => {
  for (const u of [mallory, eve]) {
    const { client } = await WsClient.open(gw.wsUrl, { token: u.token });
    clients.push(client);
    client.send({ type: 'typing', threadId });
    client.send({ type: 'presence.subscribe', threadIds: [threadId] });
    const errors = await client.waitForAll((f) => f.type === 'error', 2, 5000, `errors for ${u.userId}`);
    assert.deepEqual(errors.map((e) => e.data.code), ['not_participant', 'not_participant'], u.userId);
    // A message in the victim's thread, then one in the user's own: the own one arrives, the other never.
    await alice.say(threadId, 'still secret');
    const own = await u.thread([]);
    const mine = await u.say(own.id, 'mine');
    await client.waitFor((f) => f.type === 'message.created' && f.data.id === mine.id, 5000, 'own message');
    const leaked = client.frames.filter((f) => f.type !== 'error' && JSON.stringify(f.data ?? {}).includes(threadId));
    assert.deepEqual(leaked, [], `${u.userId} saw nothing of the thread`);
  }
});
