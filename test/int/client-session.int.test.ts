// The SDK (client/) in one user's session against the real stack: the token provider is asked
// again when the token expires or is refused, the REST calls speak the contract, typing is
// throttled and reaches the other participant, presence heartbeats and subscriptions survive a
// reconnect, and the offline queue waits for the network without losing or doubling a message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusApiError, memoryStorage } from '../../client/index.js';
import { config, sleep, stopRole, waitFor } from '../support/api.js';
import { spawnRole } from '../support/env.js';
import { useStack } from '../support/stack.js';
import { sdkFor } from '../support/sdk.js';

const stack = useStack({
  prefix: 'sdks',
  async setup(s) {
    const processors = spawnRole(['processors/main', 'counters,inbox'], { CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'warn' });
    s.defer(() => stopRole(processors));
  },
});

const opened = (h: ReturnType<typeof sdkFor>) => new Promise<void>((resolve) => h.client.once('open', () => resolve()));

describe('SDK session', () => {
  test('a refused token (upgrade 401, API 401) makes the SDK ask the provider again', async (t) => {
    const tn = stack.tenant();
    const alice = await tn.user('alice');
    const tokens = ['not-a-valid-token', alice.token];
    let calls = 0;
    const storage = memoryStorage();
    // A stored lastSeq: the SDK goes straight to the websocket, whose upgrade refuses the token.
    const th = await alice.thread([]);
    const m = await alice.say(th.id, 'before');
    await storage.set('chorus.lastSeq', m.seq);
    const h = sdkFor(stack.gw, () => tokens[Math.min(calls++, 1)]!, { storage });
    t.after(() => h.stop());
    const open = opened(h);
    await h.client.start();
    await open;
    assert.equal(calls, 2, 'the refused token was replaced');
    assert.equal(h.client.stats.snapshots, 0, 'resumed from the stored lastSeq');

    // The API path: a 401 answer invalidates the token and the call is made again with a new one.
    let apiCalls = 0;
    const api = sdkFor(stack.gw, () => (apiCalls++ === 0 ? 'revoked' : alice.token));
    t.after(() => api.stop());
    const inbox = await api.client.api.inbox();
    assert.ok(Array.isArray(inbox.threads));
    assert.equal(apiCalls, 2, 'asked once, refused with 401, asked again');
  });

  test('a token expiring mid-session is replaced before it is refused', async (t) => {
    const tn = stack.tenant();
    const alice = await tn.user('alice');
    let calls = 0;
    // 31 s tokens: inside the SDK's 30 s margin after about a second.
    const provider = async () => { calls++; return stack.auth.sign({ tenantId: tn.id, userId: 'alice', ttlSeconds: 31 }); };
    const h = sdkFor(stack.gw, provider);
    t.after(() => h.stop());
    const open = opened(h);
    await h.client.start();
    await open;
    const atStart = calls;
    assert.equal(atStart, 1);
    await sleep(1500);
    h.client.reconnect();
    await waitFor('a reconnect', async () => h.client.stats.connects >= 2 && h.client.connected, 10_000);
    assert.ok(calls > atStart, `the provider was asked again (${calls} calls)`);
    const th = await h.client.api.createThread([], 'after expiry');
    assert.equal(th.participantIds[0], alice.userId);
  });

  test('REST calls: threads, messages (send, edit, delete), read marks, inbox, sync, notifications', async (t) => {
    const tn = stack.tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const h = sdkFor(stack.gw, alice);
    t.after(() => h.stop());
    const api = h.client.api;
    const th = await api.createThread(['bob'], 'sdk');
    assert.deepEqual([...th.participantIds].sort(), ['alice', 'bob']);
    assert.equal((await api.thread(th.id)).id, th.id);
    const sent = await api.sendMessage({ threadId: th.id, body: 'hello', clientMessageId: 'c-fixed' });
    const again = await api.sendMessage({ threadId: th.id, body: 'hello', clientMessageId: 'c-fixed' });
    assert.equal(again.id, sent.id, 'the same clientMessageId returns the first message');
    const edited = await api.editMessage(sent.id, 'hello, edited');
    assert.equal(edited.body, 'hello, edited');
    const reply = await bob.say(th.id, 'hi alice');
    await api.markRead(th.id, reply.id);
    const inbox = await waitFor('the inbox entry', async () => {
      const page = await api.inbox({ limit: 10 });
      const e = page.threads.find((x) => x.threadId === th.id);
      return e?.lastMessageId === reply.id && e.unreadCount === 0 ? page : undefined;
    }, 10_000);
    assert.equal(inbox.nextCursor, null);
    const snap = await api.sync();
    assert.match(snap.seq, /^\d+-\d+$/);
    await api.deleteMessage(sent.id);
    const list = await api.notifications({ limit: 5 });
    assert.ok(Array.isArray(list.notifications));
    assert.ok(typeof (await api.notificationPreferences()) === 'object');
    await assert.rejects(api.thread('th_does_not_exist'), (e: unknown) => e instanceof ChorusApiError && e.status === 404 && e.code === 'not_found');
    await assert.rejects(api.sendMessage({ threadId: th.id, body: '' }), (e: unknown) => e instanceof ChorusApiError && e.status === 400);
  });

  test('attachments: create, PUT to the signed URL, complete in one call', async (t) => {
    const tn = stack.tenant();
    const alice = await tn.user('alice');
    // Signed URLs name the configured PORT; this file's gateway listens elsewhere, as behind a proxy.
    const proxied: typeof fetch = (input, init) => fetch(String(input).replace(`:${config.port}/`, `:${stack.gw.port}/`), init);
    const h = sdkFor(stack.gw, alice, { fetch: proxied });
    t.after(() => h.stop());
    const bytes = new TextEncoder().encode('hello from the SDK\n');
    const up = await h.client.api.uploadAttachment({ filename: 'note.txt', contentType: 'text/plain', bytes });
    assert.equal(up.status, 'uploaded');
    const got = await h.client.api.attachment(up.id);
    assert.equal(got.attachment['size'], bytes.byteLength);
    assert.match(String(got.attachment['sha256']), /^[0-9a-f]{64}$/);
  });

  test('typing is throttled and reaches the other participant; presence subscriptions survive a reconnect', async (t) => {
    const tn = stack.tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const a = sdkFor(stack.gw, alice, { typingIntervalMs: 2000 });
    const b = sdkFor(stack.gw, bob);
    t.after(() => { a.stop(); b.stop(); });
    const typed: string[] = [];
    b.client.on('typing', (x) => typed.push(x.userId));
    const presence: { userId: string; status: string }[] = [];
    b.client.on('presence.batch', (x) => presence.push(...x.updates));
    const errors: string[] = [];
    a.client.on('serverError', (e) => errors.push(e.code));
    const [oa, ob] = [opened(a), opened(b)];
    await Promise.all([a.client.start(), b.client.start()]);
    await Promise.all([oa, ob]);
    b.client.subscribePresence([th.id]);
    await waitFor('alice online', async () => presence.some((p) => p.userId === 'alice' && p.status === 'online'), 5000);

    const results = Array.from({ length: 20 }, () => a.client.typing(th.id));
    assert.equal(results.filter(Boolean).length, 1, 'one typing frame for 20 keystrokes');
    await waitFor('bob sees alice typing', async () => typed.includes('alice'), 5000);
    await sleep(300);
    assert.deepEqual(typed, ['alice']);

    // Bob reconnects: his subscription is sent again; alice going away reaches him.
    b.client.reconnect();
    await waitFor('bob back', async () => b.client.stats.connects >= 2 && b.client.connected, 10_000);
    presence.length = 0;
    a.client.setStatus('away');
    await waitFor('alice away, seen after the reconnect', async () => presence.some((p) => p.userId === 'alice' && p.status === 'away'), 5000);
    assert.deepEqual(errors, [], 'no frame of the SDK was refused');
  });

  test('the offline queue: sends made while the API is unreachable go out once it is back, in order, once each', async (t) => {
    const tn = stack.tenant();
    const alice = await tn.user('alice');
    const th = await alice.thread([]);
    let offline = true;
    const switchable: typeof fetch = (input, init) =>
      offline && init?.method === 'POST' ? Promise.reject(new TypeError('fetch failed (offline)')) : fetch(input, init);
    const storage = memoryStorage();
    const h = sdkFor(stack.gw, alice, { fetch: switchable, storage });
    t.after(() => h.stop());
    const sends = [1, 2, 3].map((i) => h.client.send({ threadId: th.id, body: `offline ${i}` }));
    await sleep(400);
    assert.equal(h.client.queued.length, 3);
    assert.ok(await storage.get('chorus.outbox'), 'the queue is kept in the storage');
    // Live before the network comes back: a message sent while the start's /api/sync runs could be
    // inside the snapshot and (rightly) never come as an event.
    const open = opened(h);
    await h.client.start();
    await open;
    offline = false;
    const sent = await Promise.all(sends);
    assert.deepEqual(sent.map((m) => m.body), ['offline 1', 'offline 2', 'offline 3']);
    assert.equal(h.client.queued.length, 0);
    assert.equal(await storage.get('chorus.outbox'), null);
    const timeline = await waitFor('the three messages in the stream', async () => {
      const ids = h.created(th.id);
      return ids.length >= 3 ? ids : undefined;
    }, 10_000);
    assert.deepEqual(timeline, sent.map((m) => m.id));
  });
});
