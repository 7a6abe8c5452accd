// Contract section 2, Read state and inbox, and Sync; section 3's read_receipt.updated and
// inbox.updated frames. Real gateway, real Redis and Postgres, the read-model groups in-process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { withTenant } from '../../core/db.js';
import { EVENT } from '../../core/events/index.js';
import { compareSeq, isSeq, type Seq } from '../../core/seq.js';
import { headSeq } from '../../core/stream-commands.js';
import { Tenant, assertError, streamOf, waitFor, type User } from '../support/api.js';
import { WsClient, closeAll } from '../support/ws-client.js';
import { caughtUp, readModelHarness } from '../support/read-models.js';

const h = readModelHarness('test-read-models');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A tenant whose streams the in-process groups serve. */
function tenant(prefix = 'rm'): Tenant {
  const t = new Tenant(h.gw.api, h.auth, prefix);
  h.tenants.add(t.id);
  return t;
}

const read = (u: User, threadId: string, body: unknown) => u.api.post(`/api/threads/${encodeURIComponent(threadId)}/read`, u.token, body);
const inbox = (u: User, query = '') => u.api.get(`/api/inbox${query ? `?${query}` : ''}`, u.token);
const settle = (t: Tenant) => caughtUp(h.redis, t.id);

describe('POST /api/threads/:threadId/read', () => {
  test('202, and one read_receipt.updated entry routed to the thread with the read message\'s seq', async () => {
    const t = tenant();
    const [alice, bob] = [await t.user('alice'), await t.user('bob')];
    const th = await alice.thread(['bob']);
    const m = await alice.say(th.id, 'hello');
    const r = await read(bob, th.id, { lastReadMessageId: m.id });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.body.readReceipt.lastReadMessageId, m.id);
    assert.ok(isSeq(r.body.readReceipt.seq));
    const entries = (await streamOf(h.redis, t.id)).filter((e) => e.type === EVENT.readReceiptUpdated);
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.equal(e.seq, r.body.readReceipt.seq);
    assert.equal(e.threadId, th.id);
    assert.equal(e.actor, 'bob');
    assert.equal(e.users, undefined);
    assert.deepEqual(JSON.parse(e.data), { threadId: th.id, userId: 'bob', lastReadMessageId: m.id, messageSeq: m.seq });
  });

  test('400 for a missing or malformed lastReadMessageId, 403 for another tenantId', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const th = await alice.thread([]);
    assertError(await read(alice, th.id, {}), 400, 'invalid_request');
    assertError(await read(alice, th.id, { lastReadMessageId: 'not an id!' }), 400, 'invalid_request');
    assertError(await read(alice, th.id, { lastReadMessageId: 7 }), 400, 'invalid_request');
    assertError(await read(alice, th.id, [1]), 400, 'invalid_request');
    assertError(await read(alice, th.id, { lastReadMessageId: 'm_x', tenantId: 'other' }), 403, 'tenant_mismatch');
    assertError(await alice.api.request('POST', `/api/threads/${th.id}/read`, { token: alice.token, raw: 'x', contentType: 'text/plain' }), 415);
    assertError(await read(alice, 'bad id!', { lastReadMessageId: 'm_x' }), 400, 'invalid_request');
  });

  test('404 for an unknown thread, a message of another thread or no message; 403 for a non-participant', async () => {
    const t = tenant();
    const [alice, eve] = [await t.user('alice'), await t.user('eve')];
    const th = await alice.thread([]);
    const other = await alice.thread([]);
    const m = await alice.say(th.id, 'one');
    const elsewhere = await alice.say(other.id, 'two');
    assertError(await read(alice, 'th_nope', { lastReadMessageId: m.id }), 404, 'not_found');
    assertError(await read(alice, th.id, { lastReadMessageId: elsewhere.id }), 404, 'not_found');
    assertError(await read(alice, th.id, { lastReadMessageId: 'm_unknown' }), 404, 'not_found');
    assertError(await read(eve, th.id, { lastReadMessageId: m.id }), 403, 'not_participant');
    assertError(await read(eve, th.id, { lastReadMessageId: 'm_unknown' }), 403, 'not_participant');
    assertError(await read(await new Tenant(h.gw.api, h.auth).user('alice'), th.id, { lastReadMessageId: m.id }), 404, 'not_found');
  });

  test('a message older than the Redis meta TTL is found in Postgres', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const th = await alice.thread([]);
    const m = await alice.say(th.id, 'old');
    await settle(t);
    await h.redis.del(`chorus:{${t.id}}:msg:${m.id}`);
    const r = await read(alice, th.id, { lastReadMessageId: m.id });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.readReceipt.messageSeq, m.seq);
  });

  test('read_receipts keeps the furthest position: a later receipt for an older message does not move it back', async () => {
    const t = tenant();
    const [alice, bob] = [await t.user('alice'), await t.user('bob')];
    const th = await alice.thread(['bob']);
    const m1 = await alice.say(th.id, 'one');
    const m2 = await alice.say(th.id, 'two');
    assert.equal((await read(bob, th.id, { lastReadMessageId: m2.id })).status, 202);
    assert.equal((await read(bob, th.id, { lastReadMessageId: m1.id })).status, 202);
    await settle(t);
    const rows = await withTenant(h.sql, t.id, (tx) => tx`select user_id, thread_id, last_read_message_id from read_receipts`);
    assert.deepEqual([...rows], [{ user_id: 'bob', thread_id: th.id, last_read_message_id: m2.id }]);
    const got = (await inbox(bob)).body.threads[0];
    assert.equal(got.lastReadMessageId, m2.id);
    assert.equal(got.unreadCount, 0);
  });
});

describe('GET /api/inbox', () => {
  test('200 {"threads":[…],"nextCursor"} with the contract\'s fields, unread counts and previews', async () => {
    const t = tenant();
    const [alice, bob] = [await t.user('alice'), await t.user('bob')];
    const th = await alice.thread(['bob'], 'Launch');
    await alice.say(th.id, 'one');
    await bob.say(th.id, 'mine');
    const last = await alice.say(th.id, 'three');
    await settle(t);
    const r = await inbox(bob);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['nextCursor', 'threads']);
    assert.equal(r.body.nextCursor, null);
    assert.deepEqual(r.body.threads, [{
      threadId: th.id, title: 'Launch', lastMessageId: last.id, lastMessageAt: last.createdAt, lastSenderId: 'alice',
      lastPreviewText: 'three', attachmentFlag: false, unreadCount: 2, lastReadMessageId: null,
    }]);
    assert.match(r.body.threads[0].lastMessageAt, ISO);
    // The sender's own messages never count.
    assert.equal((await inbox(alice)).body.threads[0].unreadCount, 1);
  });

  test('newest activity first; threads without messages by creation with null last* fields', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const a = await alice.thread([], 'a');
    const b = await alice.thread([], 'b');
    const c = await alice.thread([], 'c');
    await alice.say(a.id, 'bump a');
    await settle(t);
    const got = (await inbox(alice)).body.threads;
    assert.deepEqual(got.map((x: { threadId: string }) => x.threadId), [a.id, c.id, b.id]);
    assert.deepEqual(got[1], {
      threadId: c.id, title: 'c', lastMessageId: null, lastMessageAt: null, lastSenderId: null, lastPreviewText: null,
      attachmentFlag: false, unreadCount: 0, lastReadMessageId: null,
    });
  });

  test('reading, deleting an unread message, editing and deleting the last message', async () => {
    const t = tenant();
    const [alice, bob] = [await t.user('alice'), await t.user('bob')];
    const th = await alice.thread(['bob']);
    const m1 = await alice.say(th.id, 'one');
    const m2 = await alice.say(th.id, 'two');
    const m3 = await alice.say(th.id, 'three');
    await settle(t);
    const bobs = async () => (await inbox(bob)).body.threads[0];
    assert.equal((await bobs()).unreadCount, 3);
    await read(bob, th.id, { lastReadMessageId: m1.id });
    await settle(t);
    assert.deepEqual([(await bobs()).unreadCount, (await bobs()).lastReadMessageId], [2, m1.id]);
    assert.equal((await alice.remove(m2.id)).status, 202);
    await settle(t);
    assert.equal((await bobs()).unreadCount, 1, 'a deleted unread message no longer counts');
    assert.equal((await alice.edit(m3.id, 'three, edited')).status, 202);
    await settle(t);
    assert.deepEqual([(await bobs()).lastMessageId, (await bobs()).lastPreviewText], [m3.id, 'three, edited']);
    assert.equal((await alice.remove(m3.id)).status, 202);
    await settle(t);
    const after = await bobs();
    assert.deepEqual([after.lastMessageId, after.lastPreviewText, after.lastMessageAt, after.unreadCount], [m1.id, 'one', m1.createdAt, 0],
      'falls back to the previous live message');
  });

  test('lastPreviewText is at most 200 characters and never splits a surrogate pair', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const th = await alice.thread([]);
    await alice.say(th.id, 'x'.repeat(199) + '😀😀😀');
    await settle(t);
    const p = (await inbox(alice)).body.threads[0].lastPreviewText as string;
    assert.equal([...p].length, 200);
    assert.equal(p, 'x'.repeat(199) + '😀');
  });

  test('only threads the caller participates in now; joining and leaving move them in and out', async () => {
    const t = tenant();
    const [alice, bob, carol] = [await t.user('alice'), await t.user('bob'), await t.user('carol')];
    const th = await alice.thread(['bob']);
    await alice.say(th.id, 'hi');
    await alice.thread([]); // alice only
    await settle(t);
    assert.deepEqual((await inbox(carol)).body, { threads: [], nextCursor: null });
    assert.equal((await inbox(bob)).body.threads.length, 1);
    assert.equal((await alice.addParticipant(th.id, 'carol')).status, 204);
    await settle(t);
    assert.deepEqual((await inbox(carol)).body.threads.map((x: { threadId: string; unreadCount: number }) => [x.threadId, x.unreadCount]), [[th.id, 1]]);
    assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
    await settle(t);
    assert.deepEqual((await inbox(bob)).body.threads, []);
  });

  test('cursor pagination: every thread once, in order; limit clamped to 50; bad limit or cursor → 400', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await alice.thread([], `t${i}`)).id);
    await settle(t);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await inbox(alice, `limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.threads.length <= 3);
      seen.push(...r.body.threads.map((x: { threadId: string }) => x.threadId));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse());
    assert.equal((await inbox(alice, 'limit=1000')).body.threads.length, 7);
    assertError(await inbox(alice, 'limit=0'), 400, 'invalid_request');
    assertError(await inbox(alice, 'limit=abc'), 400, 'invalid_request');
    assertError(await inbox(alice, 'cursor=zzz'), 400, 'invalid_cursor');
    const forged = Buffer.from(JSON.stringify({ k: "'; drop table x", i: 'th_1' })).toString('base64url');
    assertError(await inbox(alice, `cursor=${forged}`), 400, 'invalid_cursor');
    assertError(await alice.api.get('/api/inbox'), 401);
  });

  test('tenants never see each other\'s inbox', async () => {
    const t1 = tenant();
    const t2 = tenant();
    const a1 = await t1.user('alice');
    const a2 = await t2.user('alice');
    await a1.thread([], 'secret');
    await settle(t1);
    assert.deepEqual((await inbox(a2)).body.threads, []);
  });
});

describe('websocket: read_receipt.updated and inbox.updated', () => {
  test('participants get the receipt; each user gets their own unread count, without the others\'', async () => {
    const t = tenant();
    const [alice, bob, carol] = [await t.user('alice'), await t.user('bob'), await t.user('carol')];
    const th = await alice.thread(['bob', 'carol']);
    await settle(t);
    const ws = await Promise.all([alice, bob, bob, carol].map((u) => WsClient.open(h.gw.wsUrl, { token: u.token })));
    const [wa, wb1, wb2, wc] = ws.map((x) => x.client) as [WsClient, WsClient, WsClient, WsClient];
    try {
      const m = await alice.say(th.id, 'ping');
      const isInbox = (unread: number) => (f: { type: string; data: any }) =>
        f.type === EVENT.inboxUpdated && f.data.threadId === th.id && f.data.unreadCount === unread && f.data.lastMessageId === m.id;
      const fb = await wb1.waitFor(isInbox(1), 10_000, 'bob\'s inbox.updated');
      await wb2.waitFor(isInbox(1), 10_000, 'bob\'s other socket');
      await wc.waitFor(isInbox(1), 10_000, 'carol\'s inbox.updated');
      await wa.waitFor(isInbox(0), 10_000, 'alice\'s inbox.updated');
      assert.ok(isSeq(fb.seq));
      assert.deepEqual(Object.keys(fb.data).sort(), [
        'attachmentFlag', 'lastMessageAt', 'lastMessageId', 'lastPreviewText', 'lastReadMessageId', 'lastSenderId', 'threadId', 'unreadCount',
      ]);
      assert.equal(fb.data.lastPreviewText, 'ping');

      assert.equal((await read(bob, th.id, { lastReadMessageId: m.id })).status, 202);
      for (const c of [wa, wb1, wb2, wc]) {
        const f = await c.waitFor((x) => x.type === EVENT.readReceiptUpdated, 10_000, 'read_receipt.updated');
        assert.deepEqual(f.data, { threadId: th.id, userId: 'bob', lastReadMessageId: m.id, messageSeq: m.seq });
      }
      // Bob's sockets (both) learn his count dropped; nobody else is told about Bob's read.
      await wb2.waitFor((f) => f.type === EVENT.inboxUpdated && f.data.unreadCount === 0 && f.data.lastReadMessageId === m.id, 10_000);
      await wb1.waitFor((f) => f.type === EVENT.inboxUpdated && f.data.unreadCount === 0, 10_000);
      await settle(t);
      assert.equal(wc.frames.filter((f) => f.type === EVENT.inboxUpdated).length, 1);
    } finally {
      await closeAll(ws.map((x) => x.client));
    }
  });

  test('a removed participant is told nothing more of the thread\'s inbox', async () => {
    const t = tenant();
    const [alice, bob] = [await t.user('alice'), await t.user('bob')];
    const th = await alice.thread(['bob']);
    await settle(t);
    const { client } = await WsClient.open(h.gw.wsUrl, { token: bob.token });
    try {
      assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
      await alice.say(th.id, 'after bob left');
      await settle(t);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(client.frames.filter((f) => f.type === EVENT.inboxUpdated), []);
    } finally {
      await client.close();
    }
  });
});

describe('GET /api/sync', () => {
  test('200 {"seq","inbox","presence":[…]}: the state as of seq, and /ws?lastSeq=seq replays only what came after', async () => {
    const t = tenant();
    const [alice, bob] = [await t.user('alice'), await t.user('bob')];
    const th = await alice.thread(['bob'], 'sync');
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await alice.say(th.id, `m${i}`));
    // No waiting here: sync itself waits until the read models reached the head.
    const r = await bob.api.get('/api/sync', bob.token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['inbox', 'presence', 'seq']);
    assert.ok(isSeq(r.body.seq));
    // Presence: the other participants of the inbox's threads (alice, not connected: offline).
    assert.deepEqual(r.body.presence, [{ userId: 'alice', status: 'offline', version: 0, lastSeenAt: null }]);
    assert.ok(compareSeq(r.body.seq as Seq, sent.at(-1)!.seq as Seq) >= 0);
    assert.equal(r.body.inbox.nextCursor, null);
    assert.deepEqual(r.body.inbox.threads.map((x: { threadId: string; unreadCount: number; lastMessageId: string }) =>
      [x.threadId, x.unreadCount, x.lastMessageId]), [[th.id, 5, sent.at(-1)!.id]]);

    const later = await alice.say(th.id, 'later');
    const { client, hello } = await WsClient.open(h.gw.wsUrl, { token: bob.token, lastSeq: r.body.seq });
    try {
      assert.equal(hello.data.resumed, true);
      await client.waitFor((f) => f.type === EVENT.messageCreated && f.data.id === later.id, 10_000);
      const replayed = client.events().filter((f) => f.type === EVENT.messageCreated).map((f) => f.data.id);
      assert.deepEqual(replayed, [later.id], 'nothing at or before seq is replayed, nothing after it is missed');
    } finally {
      await client.close();
    }
  });

  test('an empty tenant syncs at once', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const r = await alice.api.get('/api/sync', alice.token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { seq: '0-0', inbox: { threads: [], nextCursor: null }, presence: [] });
  });

  test('503 with Retry-After when the read models cannot reach the head in time', async () => {
    const t = new Tenant(h.gw.api, h.auth, 'stalled'); // not served by the in-process groups
    const alice = await t.user('alice');
    const th = await alice.thread([]);
    await alice.say(th.id, 'nobody processes this');
    const started = Date.now();
    const r = await alice.api.get('/api/sync', alice.token);
    assertError(r, 503, 'dependency_unavailable');
    assert.equal(r.headers['retry-after'], '1');
    assert.ok(Date.now() - started < 6000, 'bounded wait');
    assert.ok(compareSeq(await headSeq(h.redis, t.id), '0-0' as Seq) > 0);
  });
});

test('the receipts, counters and inbox groups ignore inbox.updated (no feedback loop)', async () => {
  const t = tenant();
  const alice = await t.user('alice');
  const th = await alice.thread(['bob']);
  await alice.say(th.id, 'one');
  await settle(t);
  const count = async () => (await streamOf(h.redis, t.id)).filter((e) => e.type === EVENT.inboxUpdated).length;
  const before = await count();
  await waitFor('the stream to stay still', async () => {
    await new Promise((r) => setTimeout(r, 300));
    return (await count()) === before;
  }, 3000);
});
