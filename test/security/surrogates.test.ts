// Issue #13, finding 2: a lone surrogate ("x\ud800y") in a body, an edit or a title was answered
// 202/201, fanned out, then refused by Postgres in every processor and dead-lettered: lost after
// the contract said durable. What a processor cannot store (a lone surrogate, NUL) is now refused
// before the 2xx, with a 400 naming the field; websocket frames get an `error` frame.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, config, createAuthenticator, migrateDb, startTestGateway, Tenant, type Reply, type TestGateway, type User } from '../support/api.js';
import { WsClient } from '../support/ws-client.js';
import { sign } from '../../workers/notify/callbacks.js';
import type { Authenticator } from '../../core/auth.js';

let gw: TestGateway;
let auth: Authenticator;
let alice: User;

before(async () => {
  await migrateDb(config);
  auth = await createAuthenticator(config);
  gw = await startTestGateway(config);
  alice = await new Tenant(gw.api, auth, 'surrogates').user('alice');
});
after(async () => {
  await gw?.close();
});

/** 400 invalid_request whose details.issues name `field`. */
function assertFieldError(r: Reply, field: string): void {
  assertError(r, 400, 'invalid_request');
  const issues = (r.body.error.details?.issues ?? []) as { field: string; message: string }[];
  assert.ok(issues.some((i) => i.field === field), `issues name ${field}: ${r.text}`);
  assert.match(r.body.error.message as string, new RegExp(`^${field.replace('.', '\\.')}: `), r.text);
}

const LONE = ['x\ud800y', 'x\udc00y', 'cut \ud83d', '\ude00 cut'];

test('the reproduction: "x\\ud800y" as a body, an edit or a title is 400 with a field error, never 202', async () => {
  const thread = await alice.thread([], 'fine');
  const message = await alice.say(thread.id, 'fine');
  for (const s of LONE) {
    assertFieldError(await alice.post({ threadId: thread.id, body: s }), 'body');
    assertFieldError(await alice.edit(message.id, s), 'body');
    assertFieldError(await alice.createThread([], s), 'title');
  }
  // Whole pairs are characters like any other: one emoji counts as one of the 4000.
  assert.equal((await alice.post({ threadId: thread.id, body: '😀'.repeat(4000) })).status, 202);
  assertFieldError(await alice.post({ threadId: thread.id, body: '😀'.repeat(4001) }), 'body');
});

test('NUL and lone surrogates are refused in every other stored string field, with the field named', async () => {
  const thread = await alice.thread([]);
  for (const bad of ['a\u0000b', 'a\ud800b']) {
    assertFieldError(await alice.post({ threadId: thread.id, body: 'ok', clientMessageId: bad }), 'clientMessageId');
    assertFieldError(await alice.post({ threadId: thread.id, body: 'ok', mentions: ['bob', bad] }), 'mentions.1');
    assertFieldError(await alice.createThread([bad]), 'participantIds.0');
    assertFieldError(await alice.addParticipant(thread.id, bad), 'userId');
    const att = await gw.api.post('/api/attachments', alice.token, { filename: `photo${bad}.png`, contentType: 'image/png', size: 10 });
    assertFieldError(att, 'filename');
    const ct = await gw.api.post('/api/attachments', alice.token, { filename: 'photo.png', contentType: `image/png${bad}`, size: 10 });
    assertFieldError(ct, 'contentType');
    // The URL parser takes both in a path; Postgres' jsonb takes neither (this was a 500).
    const prefs = { channels: { inApp: true, email: true, push: true }, pushEndpoint: `https://push.example/${bad}` };
    assertFieldError(await gw.api.request('PUT', '/api/notification-preferences', { token: alice.token, json: prefs }), 'pushEndpoint');
  }
});

test('a provider callback with NUL in its free text is 400 naming the field (Postgres text refused it: 500)', async () => {
  const secret = config.notify.email.callbackSecret;
  assert.ok(secret, 'the test configuration has an email callback secret');
  for (const reason of ['a\u0000b', 'a\udfffb']) {
    const raw = JSON.stringify({ tenantId: alice.tenantId, notificationId: 'ntf_1', status: 'failed', reason });
    const r = await gw.api.request('POST', '/api/providers/email/callback', {
      raw, contentType: 'application/json', headers: { 'x-chorus-signature': sign(secret, raw) },
    });
    assertFieldError(r, 'reason');
  }
});

test('websocket frames carrying a lone surrogate or NUL get an error frame; the connection stays usable', async () => {
  const { client } = await WsClient.open(gw.wsUrl, { token: alice.token });
  try {
    const frames: unknown[] = [
      { type: 'typing', threadId: 'x\ud800y' },
      { type: 'typing', data: { threadId: 'x\u0000y' } },
      { type: 'presence.subscribe', threadIds: ['ok', 'x\udc00'] },
      { type: 'presence.heartbeat', status: 'online\ud800' },
    ];
    for (const [i, f] of frames.entries()) {
      client.send(f);
      const errors = await client.waitForAll((x) => x.type === 'error', i + 1, 5000, `error frame ${i + 1}`);
      assert.equal(errors[i]?.data.code, 'invalid_request', JSON.stringify(errors[i]));
    }
    client.send({ type: 'ping' });
    await client.waitFor((x) => x.type === 'pong');
  } finally {
    await client.close();
  }
});
