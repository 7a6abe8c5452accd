// Contract section 2, Messages: post (202 with the message, idempotent on clientMessageId), edit
// (sender only), soft delete (sender or admin), and the thread timeline (newest first, visible
// within 1 s p99 of the 202, opaque cursors, limit clamped to 50). The timeline is the persist
// processor's projection: it runs as a child process here, as in production.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isId } from '../../core/ids.js';
import { compareSeq, isSeq, seqMillis, type Seq } from '../../core/seq.js';
import {
  Tenant, assertError, startPersist, stopRole, streamOf, waitFor, type MessageBody, type User,
} from '../support/api.js';
import type { RoleProcess } from '../support/env.js';
import { useStack } from '../support/stack.js';

const stack = useStack({ prefix: 'msg' });
const { config } = stack;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const tenant = () => stack.tenant();

/** alice and bob in one thread; dave in the tenant but not in the thread. */
async function scene() {
  const t = tenant();
  const [alice, bob, dave, root] = await Promise.all([t.user('alice'), t.user('bob'), t.user('dave'), t.user('root', { admin: true })]);
  const th = await alice.thread(['bob']);
  return { t, alice, bob, dave, root, th };
}

async function createdEvents(t: Tenant) {
  return (await streamOf(stack.redis, t.id)).filter((e) => e.type === 'message.created');
}

describe('POST /api/messages', () => {
  test('202 {"message":{…}} with exactly the contract\'s fields', async () => {
    const { alice, th } = await scene();
    const r = await alice.post({ threadId: th.id, body: 'hello', clientMessageId: 'c-1', mentions: ['bob'] });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(Object.keys(r.body), ['message']);
    const m = r.body.message;
    assert.deepEqual(Object.keys(m).sort(), ['attachmentIds', 'body', 'clientMessageId', 'createdAt', 'id', 'mentions', 'senderId', 'seq', 'threadId']);
    assert.ok(isId(m.id), m.id);
    assert.equal(m.threadId, th.id);
    assert.equal(m.senderId, 'alice');
    assert.equal(m.body, 'hello');
    assert.equal(m.clientMessageId, 'c-1');
    assert.deepEqual(m.mentions, ['bob']);
    assert.deepEqual(m.attachmentIds, []);
    assert.ok(isSeq(m.seq), m.seq);
    assert.match(m.createdAt, ISO);
    assert.equal(Date.parse(m.createdAt), seqMillis(m.seq as Seq), 'createdAt is the acceptance time of the stream entry');
    assert.ok(Math.abs(Date.parse(m.createdAt) - Date.now()) < 60_000);
  });

  test('without clientMessageId the field is absent; mentions and attachmentIds default to []', async () => {
    const { alice, th } = await scene();
    const m = await alice.say(th.id, 'plain');
    assert.deepEqual(Object.keys(m).sort(), ['attachmentIds', 'body', 'createdAt', 'id', 'mentions', 'senderId', 'seq', 'threadId']);
    assert.deepEqual(m.mentions, []);
    assert.deepEqual(m.attachmentIds, []);
  });

  test('the 202 is the stream entry: one message.created whose seq is the message\'s seq', async () => {
    const { t, alice, th } = await scene();
    const m = await alice.say(th.id, 'durable');
    const events = await createdEvents(t);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.seq, m.seq);
    assert.equal(events[0]!.threadId, th.id);
    assert.equal(JSON.parse(events[0]!.data).id, m.id);
  });

  test('seq increases with every accepted message', async () => {
    const { alice, bob, th } = await scene();
    const seqs: string[] = [];
    for (let i = 0; i < 10; i++) seqs.push((await (i % 2 ? bob : alice).say(th.id, `m${i}`)).seq);
    for (let i = 1; i < seqs.length; i++) assert.ok(compareSeq(seqs[i - 1] as Seq, seqs[i] as Seq) < 0);
  });

  test('body of 1 to 4000 characters, counted as characters (code points), not bytes or UTF-16 units', async () => {
    const { alice, th } = await scene();
    for (const body of ['x', 'x'.repeat(4000), '😀'.repeat(4000), 'é'.repeat(4000), ' ', '\n']) {
      const r = await alice.post({ threadId: th.id, body });
      assert.equal(r.status, 202, `${[...body].length} chars: ${r.text.slice(0, 200)}`);
      assert.equal(r.body.message.body, body, 'the body comes back unchanged');
    }
    for (const body of ['', 'x'.repeat(4001), '😀'.repeat(4001), 'a\u0000b', '\u0000']) {
      assertError(await alice.post({ threadId: th.id, body }), 400, 'invalid_request');
    }
  });

  test('400 for each invalid field', async () => {
    const { alice, th } = await scene();
    const bad: [string, Record<string, unknown>][] = [
      ['threadId missing', { body: 'x' }],
      ['threadId not an id', { threadId: 'a b', body: 'x' }],
      ['threadId not a string', { threadId: 1, body: 'x' }],
      ['body missing', { threadId: th.id }],
      ['body not a string', { threadId: th.id, body: 42 }],
      ['body null', { threadId: th.id, body: null }],
      ['clientMessageId not an id', { threadId: th.id, body: 'x', clientMessageId: 'a b' }],
      ['clientMessageId too long', { threadId: th.id, body: 'x', clientMessageId: 'c'.repeat(65) }],
      ['clientMessageId not a string', { threadId: th.id, body: 'x', clientMessageId: 5 }],
      ['mentions not an array', { threadId: th.id, body: 'x', mentions: 'bob' }],
      ['mentions with a bad id', { threadId: th.id, body: 'x', mentions: ['bob', 'b ob'] }],
      ['mentions with a non-string', { threadId: th.id, body: 'x', mentions: [7] }],
      ['more than 10 attachments', { threadId: th.id, body: 'x', attachmentIds: Array.from({ length: 11 }, (_, i) => `att_${i}`) }],
      ['attachmentIds not an array', { threadId: th.id, body: 'x', attachmentIds: 'att_1' }],
      ['attachment id not an id', { threadId: th.id, body: 'x', attachmentIds: ['a/b'] }],
      ['an attachment that is not ready (none exists)', { threadId: th.id, body: 'x', attachmentIds: ['att_unknown'] }],
    ];
    for (const [name, body] of bad) {
      const r = await alice.post(body);
      assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
      assertError(r, 400, 'invalid_request');
    }
    assertError(await stack.gw.api.request('POST', '/api/messages', { token: alice.token, raw: '{"threadId":', contentType: 'application/json' }), 400, 'invalid_json');
    assertError(await stack.gw.api.request('POST', '/api/messages', { token: alice.token, raw: JSON.stringify({ threadId: th.id, body: 'x' }), contentType: 'text/plain' }), 415);
  });

  test('413 for a request body over the limit', async () => {
    const { alice, th } = await scene();
    const raw = JSON.stringify({ threadId: th.id, body: 'x'.repeat(config.ingest.maxBodyBytes) });
    assertError(await stack.gw.api.request('POST', '/api/messages', { token: alice.token, raw, contentType: 'application/json' }), 413, 'payload_too_large');
  });

  test('mentions are deduplicated', async () => {
    const { alice, th } = await scene();
    const m = await alice.say(th.id, 'hi', { mentions: ['bob', 'bob', 'carol'] });
    assert.deepEqual([...m.mentions].sort(), ['bob', 'carol']);
  });

  test('403 for a non-participant, 404 for an unknown thread or another tenant\'s thread; nothing is written', async () => {
    const { t, alice, bob, dave, th } = await scene();
    assertError(await dave.post({ threadId: th.id, body: 'let me in' }), 403, 'not_participant');
    assertError(await alice.post({ threadId: 'th_doesnotexist', body: 'x' }), 404, 'not_found');
    const other = await tenant().user('alice');
    assertError(await other.post({ threadId: th.id, body: 'x' }), 404, 'not_found');
    // Removed participants lose the right to post.
    assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
    assertError(await bob.post({ threadId: th.id, body: 'still here?' }), 403, 'not_participant');
    assert.equal((await createdEvents(t)).length, 0);
  });
});

describe('idempotency on clientMessageId', () => {
  test('the same clientMessageId from the same sender returns the first message, and appends nothing', async () => {
    const { t, alice, th } = await scene();
    const first = await alice.post({ threadId: th.id, body: 'once', clientMessageId: 'dup-1' });
    assert.equal(first.status, 202);
    const again = await alice.post({ threadId: th.id, body: 'once', clientMessageId: 'dup-1' });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, first.body);
    // Even with another body: the retry is the same message, never a second copy.
    const changed = await alice.post({ threadId: th.id, body: 'twice?', clientMessageId: 'dup-1' });
    assert.deepEqual(changed.body, first.body);
    const events = await createdEvents(t);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.seq, first.body.message.seq);
  });

  test('20 concurrent posts with one clientMessageId make exactly one message', async () => {
    const { t, alice, th } = await scene();
    const replies = await Promise.all(Array.from({ length: 20 }, () => alice.post({ threadId: th.id, body: 'race', clientMessageId: 'race-1' })));
    for (const r of replies) assert.equal(r.status, 202, r.text);
    const ids = new Set(replies.map((r) => r.body.message.id));
    assert.equal(ids.size, 1, `one message, got ${[...ids].join(', ')}`);
    assert.equal(new Set(replies.map((r) => r.body.message.seq)).size, 1);
    const events = (await createdEvents(t)).filter((e) => JSON.parse(e.data).clientMessageId === 'race-1');
    assert.equal(events.length, 1);
  });

  test('another sender with the same clientMessageId gets a message of their own', async () => {
    const { t, alice, bob, th } = await scene();
    const a = await alice.say(th.id, 'from alice', { clientMessageId: 'shared' });
    const b = await bob.say(th.id, 'from bob', { clientMessageId: 'shared' });
    assert.notEqual(a.id, b.id);
    assert.equal(b.senderId, 'bob');
    assert.equal(b.body, 'from bob');
    assert.equal((await createdEvents(t)).length, 2);
  });

  test('the same clientMessageId in another tenant is unrelated', async () => {
    const one = await scene();
    const two = await scene();
    const a = await one.alice.say(one.th.id, 'x', { clientMessageId: 'same' });
    const b = await two.alice.say(two.th.id, 'x', { clientMessageId: 'same' });
    assert.notEqual(a.id, b.id);
    assert.equal(b.threadId, two.th.id);
  });
});

describe('PATCH /api/messages/:messageId', () => {
  test('202 for the sender, with the edited message; one message.updated event', async () => {
    const { t, alice, th } = await scene();
    const m = await alice.say(th.id, 'draft', { clientMessageId: 'e-1', mentions: ['bob'] });
    const r = await alice.edit(m.id, 'final');
    assert.equal(r.status, 202, r.text);
    const e = r.body.message;
    assert.equal(e.id, m.id);
    assert.equal(e.body, 'final');
    for (const k of ['threadId', 'senderId', 'createdAt', 'seq', 'clientMessageId', 'mentions', 'attachmentIds'] as const) {
      assert.deepEqual(e[k], m[k], `${k} survives an edit`);
    }
    const updated = (await streamOf(stack.redis, t.id)).filter((x) => x.type === 'message.updated');
    assert.equal(updated.length, 1);
    assert.equal(JSON.parse(updated[0]!.data).body, 'final');
  });

  test('403 for anyone but the sender, admins included', async () => {
    const { t, alice, bob, dave, root, th } = await scene();
    const m = await alice.say(th.id, 'mine');
    assertError(await bob.edit(m.id, 'hijack'), 403);
    assertError(await dave.edit(m.id, 'hijack'), 403);
    assertError(await root.edit(m.id, 'hijack'), 403);
    assert.equal((await streamOf(stack.redis, t.id)).filter((x) => x.type === 'message.updated').length, 0);
  });

  test('404 for an unknown message (or another tenant\'s), 409 after delete', async () => {
    const { alice, th } = await scene();
    assertError(await alice.edit('m_doesnotexist', 'x'), 404, 'not_found');
    const m = await alice.say(th.id, 'soon gone');
    const other = await tenant().user('alice');
    assertError(await other.edit(m.id, 'x'), 404, 'not_found');
    assert.equal((await alice.remove(m.id)).status, 202);
    assertError(await alice.edit(m.id, 'too late'), 409);
  });

  test('400 for an invalid body', async () => {
    const { alice, th } = await scene();
    const m = await alice.say(th.id, 'x');
    for (const body of [{}, { body: '' }, { body: 'x'.repeat(4001) }, { body: 1 }, { body: 'a\u0000' }]) {
      assertError(await stack.gw.api.patch(`/api/messages/${m.id}`, alice.token, body), 400, 'invalid_request');
    }
    assertError(await stack.gw.api.request('PATCH', `/api/messages/${m.id}`, { token: alice.token, raw: 'body=x', contentType: 'text/plain' }), 415);
  });

  test('a sender who left the thread can no longer edit', async () => {
    const { bob, th } = await scene();
    const m = await bob.say(th.id, 'before leaving');
    assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
    assertError(await bob.edit(m.id, 'after leaving'), 403);
  });
});

describe('DELETE /api/messages/:messageId', () => {
  test('202 for the sender; one message.deleted event; deleting again is still 202 and appends nothing', async () => {
    const { t, alice, th } = await scene();
    const m = await alice.say(th.id, 'oops');
    const r = await alice.remove(m.id);
    assert.equal(r.status, 202, r.text);
    assert.equal((await alice.remove(m.id)).status, 202);
    const deleted = (await streamOf(stack.redis, t.id)).filter((x) => x.type === 'message.deleted');
    assert.equal(deleted.length, 1);
    const d = JSON.parse(deleted[0]!.data);
    assert.equal(d.id, m.id);
    assert.equal(d.threadId, th.id);
  });

  test('202 for an admin', async () => {
    const { alice, root, th } = await scene();
    const m = await alice.say(th.id, 'moderate me');
    assert.equal((await root.remove(m.id)).status, 202);
    assertError(await alice.edit(m.id, 'x'), 409);
  });

  test('403 for other participants and non-participants', async () => {
    const { t, alice, bob, dave, th } = await scene();
    const m = await alice.say(th.id, 'keep');
    assertError(await bob.remove(m.id), 403);
    assertError(await dave.remove(m.id), 403);
    assert.equal((await streamOf(stack.redis, t.id)).filter((x) => x.type === 'message.deleted').length, 0);
    assert.equal((await alice.edit(m.id, 'still editable')).status, 202);
  });

  test('404 for an unknown message', async () => {
    const { alice } = await scene();
    assertError(await alice.remove('m_doesnotexist'), 404, 'not_found');
    assertError(await alice.remove('a b'), 400);
  });
});

describe('GET /api/threads/:threadId/messages', () => {
  let persist: RoleProcess | undefined;
  before(async () => { persist = await startPersist(config, stack.gw.api, stack.auth); });
  after(async () => { await stopRole(persist); });

  /** Waits until the timeline of `u` satisfies `ok` (the projection lags the 202 by < 1 s p99). */
  async function timelineUntil(u: User, threadId: string, ok: (ms: MessageBody[]) => boolean, query = 'limit=50') {
    return waitFor(`timeline of ${threadId}`, async () => {
      const r = await u.timeline(threadId, query);
      assert.equal(r.status, 200, r.text);
      return ok(r.body.messages) ? r.body : undefined;
    }, 5000);
  }

  /** Every message of the timeline, page by page. */
  async function walk(u: User, threadId: string, limit: number): Promise<{ all: MessageBody[]; pages: number }> {
    const all: MessageBody[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await u.timeline(threadId, q);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.messages.length <= limit);
      all.push(...r.body.messages);
      cursor = r.body.nextCursor;
      pages++;
      assert.ok(pages < 1000, 'pagination terminates');
    } while (cursor !== null);
    return { all, pages };
  }

  test('200 {"messages","nextCursor"}: a 202\'d message becomes visible within 5 s, as posted', async () => {
    const { alice, bob, th } = await scene();
    const m = await alice.say(th.id, 'visible soon', { clientMessageId: 'v-1', mentions: ['bob'] });
    const started = Date.now();
    const page = await timelineUntil(bob, th.id, (ms) => ms.some((x) => x.id === m.id));
    const took = Date.now() - started;
    assert.deepEqual(Object.keys(page).sort(), ['messages', 'nextCursor']);
    assert.equal(page.nextCursor, null);
    const got = page.messages.find((x) => x.id === m.id)!;
    for (const [k, v] of Object.entries(m)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `timeline field ${k}`);
    assert.ok(took < 5000, `visible after ${took} ms`);
  });

  test('newest first', async () => {
    const { alice, bob, th } = await scene();
    const posted: MessageBody[] = [];
    for (let i = 0; i < 8; i++) posted.push(await (i % 2 ? bob : alice).say(th.id, `n${i}`));
    const page = await timelineUntil(alice, th.id, (ms) => ms.length === 8);
    assert.deepEqual(page.messages.map((m) => m.id), posted.map((m) => m.id).reverse());
  });

  test('edits are reflected and deleted messages are excluded', async () => {
    const { alice, bob, root, th } = await scene();
    const a = await alice.say(th.id, 'original');
    const b = await bob.say(th.id, 'to delete');
    const c = await alice.say(th.id, 'moderated');
    const d = await bob.say(th.id, 'stays');
    await timelineUntil(alice, th.id, (ms) => ms.length === 4);
    assert.equal((await alice.edit(a.id, 'edited')).status, 202);
    assert.equal((await bob.remove(b.id)).status, 202);
    assert.equal((await root.remove(c.id)).status, 202);
    const page = await timelineUntil(alice, th.id, (ms) => ms.length === 2 && ms.some((m) => m.body === 'edited'));
    assert.deepEqual(page.messages.map((m) => m.id), [d.id, a.id]);
    assert.equal(page.messages[1]!.body, 'edited');
  });

  test('limit defaults to 50 and is clamped to 50; nextCursor walks every message exactly once, newest first', async () => {
    const { alice, bob, th } = await scene();
    const posted: string[] = [];
    // Two senders: one user alone would run into the per-user message rate limit.
    for (let i = 0; i < 55; i++) posted.push((await (i % 2 ? bob : alice).say(th.id, `p${i}`)).id);
    const newestFirst = [...posted].reverse();
    await timelineUntil(alice, th.id, (ms) => ms.length === 50 && ms[0]!.id === newestFirst[0]);
    for (const q of ['', 'limit=100', 'limit=51', 'limit=999999']) {
      const r = await alice.timeline(th.id, q);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.messages.length, 50, `?${q}`);
      assert.deepEqual(r.body.messages.map((m) => m.id), newestFirst.slice(0, 50), `?${q}`);
      assert.equal(typeof r.body.nextCursor, 'string', `?${q}`);
    }
    for (const limit of [1, 7, 50]) {
      const { all, pages } = await walk(alice, th.id, limit);
      assert.deepEqual(all.map((m) => m.id), newestFirst, `limit=${limit}`);
      assert.ok(pages <= Math.ceil(55 / limit) + 1, `limit=${limit}: ${pages} pages`);
    }
  });

  test('pagination is stable while new messages arrive', async () => {
    const { alice, bob, th } = await scene();
    const posted: string[] = [];
    for (let i = 0; i < 12; i++) posted.push((await alice.say(th.id, `s${i}`)).id);
    await timelineUntil(alice, th.id, (ms) => ms.length === 12);
    const first = await alice.timeline(th.id, 'limit=5');
    await bob.say(th.id, 'late arrival');
    const seen = [...first.body.messages.map((m) => m.id)];
    let cursor = first.body.nextCursor;
    while (cursor) {
      const r = await alice.timeline(th.id, `limit=5&cursor=${encodeURIComponent(cursor)}`);
      seen.push(...r.body.messages.map((m) => m.id));
      cursor = r.body.nextCursor;
    }
    assert.deepEqual(seen, [...posted].reverse(), 'older pages neither repeat nor skip because of a newer message');
  });

  test('400 for a bad cursor or limit', async () => {
    const { alice, th } = await scene();
    await alice.say(th.id, 'x');
    for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=', 'limit=1e3', 'limit=%20']) {
      const r = await alice.timeline(th.id, q);
      if (q === 'limit=') assert.equal(r.status, 200, 'an empty limit means the default');
      else assertError(r, 400);
    }
    for (const cursor of ['garbage', '!!!', 'eyJmb28iOiJiYXIifQ', 'x'.repeat(500)]) {
      assertError(await alice.timeline(th.id, `cursor=${encodeURIComponent(cursor)}`), 400);
    }
  });

  test('403 for a non-participant, 404 for an unknown thread', async () => {
    const { alice, dave, th } = await scene();
    await alice.say(th.id, 'private');
    assertError(await dave.timeline(th.id), 403, 'not_participant');
    assertError(await alice.timeline('th_doesnotexist'), 404, 'not_found');
    assertError(await (await tenant().user('alice')).timeline(th.id), 404);
  });

  test('a cursor from one thread does not page another', async () => {
    const { alice, th } = await scene();
    const other = await alice.thread([]);
    for (let i = 0; i < 3; i++) { await alice.say(th.id, `a${i}`); await alice.say(other.id, `b${i}`); }
    await timelineUntil(alice, th.id, (ms) => ms.length === 3);
    await timelineUntil(alice, other.id, (ms) => ms.length === 3);
    const page = await alice.timeline(th.id, 'limit=1');
    const r = await alice.timeline(other.id, `limit=5&cursor=${encodeURIComponent(page.body.nextCursor!)}`);
    if (r.status === 200) {
      for (const m of r.body.messages) assert.equal(m.threadId, other.id);
    } else assertError(r, 400);
  });
});
