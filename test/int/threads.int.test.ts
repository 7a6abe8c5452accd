// Contract section 2, Threads: create (201, the caller always a participant), read (participants
// only), add and remove participants; input validation (400), content type (415), invalid JSON (400)
// and body size (413) as the HTTP layer enforces them for every JSON route.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isId } from '../../core/ids.js';
import { isSeq } from '../../core/seq.js';
import { assertError, streamOf } from '../support/api.js';
import { useStack } from '../support/stack.js';

const stack = useStack({ prefix: 'thr' });
const { config } = stack;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const sorted = (a: string[]) => [...a].sort();
const tenant = () => stack.tenant();

describe('POST /api/threads', () => {
  test('201 {"thread":{"id","title","createdAt","participantIds"}}', async () => {
    const alice = await tenant().user('alice');
    const before = Date.now();
    const r = await alice.createThread(['bob', 'carol'], 'Launch');
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.body), ['thread']);
    const th = r.body.thread;
    assert.deepEqual(sorted(Object.keys(th)), ['createdAt', 'id', 'participantIds', 'title']);
    assert.ok(isId(th.id), th.id);
    assert.equal(th.title, 'Launch');
    assert.match(th.createdAt, ISO);
    assert.ok(Math.abs(Date.parse(th.createdAt) - before) < 60_000);
    assert.deepEqual(sorted(th.participantIds), ['alice', 'bob', 'carol']);
  });

  test('the caller is always a participant, and participantIds are deduplicated', async () => {
    const alice = await tenant().user('alice');
    const none = await alice.thread([]);
    assert.deepEqual(none.participantIds, ['alice']);
    const dup = await alice.thread(['bob', 'bob', 'alice', 'carol', 'bob']);
    assert.deepEqual(sorted(dup.participantIds), ['alice', 'bob', 'carol']);
    assert.equal(new Set(dup.participantIds).size, dup.participantIds.length);
  });

  test('without a title, title is null', async () => {
    const alice = await tenant().user('alice');
    const th = await alice.thread(['bob']);
    assert.ok('title' in th);
    assert.equal(th.title, null);
    assert.equal((await alice.createThread(['bob'], null)).body.thread.title, null);
  });

  test('each thread gets its own id and one thread.created event naming every participant', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const a = await alice.thread(['bob']);
    const b = await alice.thread(['bob']);
    assert.notEqual(a.id, b.id);
    const created = (await streamOf(stack.redis, t.id)).filter((e) => e.type === 'thread.created');
    assert.equal(created.length, 2);
    assert.ok(isSeq(created[0]!.seq));
    assert.equal(created[0]!.threadId, a.id);
    assert.deepEqual(sorted(created[0]!.users ?? []), ['alice', 'bob']);
  });

  test('400 for each invalid field', async () => {
    const alice = await tenant().user('alice');
    const bad: [string, unknown][] = [
      ['participantIds missing', {}],
      ['participantIds missing, title present', { title: 'x' }],
      ['participantIds not an array', { participantIds: 'bob' }],
      ['participantIds an object', { participantIds: { 0: 'bob' } }],
      ['participantIds null', { participantIds: null }],
      ['participant id with a space', { participantIds: ['b ob'] }],
      ['participant id empty', { participantIds: [''] }],
      ['participant id too long', { participantIds: ['x'.repeat(65)] }],
      ['participant id not a string', { participantIds: [42] }],
      ['one bad id among good ones', { participantIds: ['bob', 'c/arol'] }],
      ['title too long', { title: 't'.repeat(201), participantIds: [] }],
      ['title not a string', { title: 42, participantIds: [] }],
      ['title an object', { title: { a: 1 }, participantIds: [] }],
      ['title with NUL', { title: 'a\u0000b', participantIds: [] }],
      ['body an array', []],
      ['body a string', 'participantIds'],
      ['body null', null],
    ];
    for (const [name, body] of bad) {
      const r = await stack.gw.api.post('/api/threads', alice.token, body);
      assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
      assertError(r, 400, 'invalid_request');
    }
    // Boundaries that are fine.
    assert.equal((await alice.createThread([], 't'.repeat(200))).status, 201);
    assert.equal((await alice.createThread([], '😀'.repeat(200))).status, 201, '200 characters, even as surrogate pairs');
    assert.equal((await alice.createThread(['x'.repeat(64)])).status, 201);
  });

  test('an empty body is 400', async () => {
    const alice = await tenant().user('alice');
    assertError(await stack.gw.api.request('POST', '/api/threads', { token: alice.token, raw: '', contentType: 'application/json' }), 400);
  });

  test('too many participants is 400', async () => {
    const alice = await tenant().user('alice');
    const ids = Array.from({ length: config.ingest.maxParticipants }, (_, i) => `u${i}`);
    assertError(await alice.createThread(ids), 400, 'invalid_request');
  });

  test('415 for a content type other than JSON', async () => {
    const alice = await tenant().user('alice');
    const raw = JSON.stringify({ participantIds: [] });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const r = await stack.gw.api.request('POST', '/api/threads', { token: alice.token, raw, contentType });
      assertError(r, 415, 'unsupported_media_type');
    }
    // JSON with parameters or a +json suffix is JSON.
    const ok = await stack.gw.api.request('POST', '/api/threads', { token: alice.token, raw, contentType: 'application/json; charset=utf-8' });
    assert.equal(ok.status, 201, ok.text);
  });

  test('400 invalid_json for a body that is not JSON', async () => {
    const alice = await tenant().user('alice');
    for (const raw of ['{"participantIds": [', '{participantIds: []}', 'nope', '{"a":1}}']) {
      const r = await stack.gw.api.request('POST', '/api/threads', { token: alice.token, raw, contentType: 'application/json' });
      assertError(r, 400, 'invalid_json');
    }
  });

  test('413 for a body over CHORUS_MAX_BODY_BYTES, with or without Content-Length', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const limit = config.ingest.maxBodyBytes;
    const body = (size: number) => {
      const head = '{"participantIds":[],"title":"';
      return `${head}${'x'.repeat(size - head.length - 2)}"}`;
    };
    assert.equal(Buffer.byteLength(body(limit + 1)), limit + 1);
    const declared = await stack.gw.api.request('POST', '/api/threads', { token: alice.token, raw: body(limit + 1), contentType: 'application/json' });
    assertError(declared, 413, 'payload_too_large');
    const chunked = await stack.gw.api.request('POST', '/api/threads', {
      token: alice.token, raw: body(limit * 2), contentType: 'application/json', chunked: true,
    });
    assertError(chunked, 413, 'payload_too_large');
    // Exactly at the limit the body is read (and then refused for its title, not its size).
    const atLimit = await stack.gw.api.request('POST', '/api/threads', { token: alice.token, raw: body(limit), contentType: 'application/json' });
    assertError(atLimit, 400, 'invalid_request');
    assert.equal((await streamOf(stack.redis, t.id)).length, 0, 'nothing was written');
  });
});

describe('GET /api/threads/:threadId', () => {
  test('200 for every participant, with the thread as created', async () => {
    const t = tenant();
    const [alice, bob] = await Promise.all([t.user('alice'), t.user('bob')]);
    const created = await alice.thread(['bob'], 'Hello');
    for (const u of [alice, bob]) {
      const r = await u.getThread(created.id);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.body), ['thread']);
      const th = r.body.thread;
      assert.deepEqual(sorted(Object.keys(th)), ['createdAt', 'id', 'participantIds', 'title']);
      assert.equal(th.id, created.id);
      assert.equal(th.title, 'Hello');
      assert.equal(th.createdAt, created.createdAt);
      assert.deepEqual(sorted(th.participantIds), sorted(created.participantIds));
    }
  });

  test('GET agrees with the 201 for an empty title', async () => {
    const alice = await tenant().user('alice');
    const r = await alice.createThread([], '');
    assert.equal(r.status, 201, r.text);
    const got = await alice.getThread(r.body.thread.id);
    assert.equal(got.body.thread.title, r.body.thread.title, 'the same thread must not have two titles');
  });

  test('403 for a non-participant of the same tenant', async () => {
    const t = tenant();
    const [alice, dave] = await Promise.all([t.user('alice'), t.user('dave')]);
    const th = await alice.thread(['bob']);
    assertError(await dave.getThread(th.id), 403, 'not_participant');
    // Admins are not participants by virtue of the role.
    assertError(await (await t.user('root', { admin: true })).getThread(th.id), 403);
  });

  test('another tenant asking for the thread id gets 404: thread ids are scoped to the token\'s tenant', async () => {
    const a = tenant();
    const th = await (await a.user('alice')).thread(['bob']);
    // Same user id, other tenant: the thread does not exist there. 404 (not 403) also keeps other
    // tenants from learning that the id exists at all.
    const b = tenant();
    for (const u of [await b.user('alice'), await b.user('bob'), await b.user('root', { admin: true })]) {
      assertError(await u.getThread(th.id), 404, 'not_found');
    }
  });

  test('404 for an unknown thread, 400 for an id that is not an id', async () => {
    const alice = await tenant().user('alice');
    assertError(await alice.getThread('th_doesnotexist'), 404, 'not_found');
    assertError(await alice.getThread('a b'), 400, 'invalid_request');
    assertError(await alice.getThread('x'.repeat(65)), 400, 'invalid_request');
  });

  test('a malformed percent-encoding in the path is 400, and the gateway keeps serving', async () => {
    const alice = await tenant().user('alice');
    const r = await stack.gw.api.request('GET', '/api/threads/%E0%A4%A', { token: alice.token, timeoutMs: 3000 });
    assertError(r, 400);
    assert.equal((await stack.gw.api.get('/healthz')).status, 200);
  });
});

describe('POST /api/threads/:threadId/participants', () => {
  test('204 for any participant; the added user becomes a participant', async () => {
    const t = tenant();
    const [alice, bob, carol] = await Promise.all([t.user('alice'), t.user('bob'), t.user('carol')]);
    const th = await alice.thread(['bob']);
    assertError(await carol.getThread(th.id), 403);
    // bob did not create the thread; being a participant is enough.
    const r = await bob.addParticipant(th.id, 'carol');
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assert.equal((await carol.getThread(th.id)).status, 200);
    assert.deepEqual(sorted((await alice.getThread(th.id)).body.thread.participantIds), ['alice', 'bob', 'carol']);
    const added = (await streamOf(stack.redis, t.id)).filter((e) => e.type === 'participant.added');
    assert.equal(added.length, 1);
    assert.deepEqual(added[0]!.users, ['carol']);
    assert.deepEqual(JSON.parse(added[0]!.data), { threadId: th.id, userId: 'carol', addedBy: 'bob' });
  });

  test('adding an existing participant is an idempotent 204 without a second event', async () => {
    const t = tenant();
    const alice = await t.user('alice');
    const th = await alice.thread(['bob']);
    assert.equal((await alice.addParticipant(th.id, 'carol')).status, 204);
    assert.equal((await alice.addParticipant(th.id, 'carol')).status, 204);
    assert.equal((await alice.addParticipant(th.id, 'bob')).status, 204);
    const events = await streamOf(stack.redis, t.id);
    assert.equal(events.filter((e) => e.type === 'participant.added').length, 1);
  });

  test('403 for a non-participant, 404 for an unknown thread, 400 for a bad user id', async () => {
    const t = tenant();
    const [alice, dave] = await Promise.all([t.user('alice'), t.user('dave')]);
    const th = await alice.thread(['bob']);
    assertError(await dave.addParticipant(th.id, 'dave'), 403, 'not_participant');
    assertError(await dave.addParticipant(th.id, 'eve'), 403, 'not_participant');
    assertError(await alice.addParticipant('th_doesnotexist', 'carol'), 404, 'not_found');
    for (const userId of ['', 'a b', 'x'.repeat(65)]) assertError(await alice.addParticipant(th.id, userId), 400, 'invalid_request');
    assertError(await stack.gw.api.post(`/api/threads/${th.id}/participants`, alice.token, {}), 400, 'invalid_request');
    assertError(await stack.gw.api.request('POST', `/api/threads/${th.id}/participants`, {
      token: alice.token, raw: '{"userId":"carol"}', contentType: 'text/plain',
    }), 415);
    assert.equal((await streamOf(stack.redis, t.id)).filter((e) => e.type === 'participant.added').length, 0);
  });

  test('another tenant cannot add to the thread', async () => {
    const a = tenant();
    const th = await (await a.user('alice')).thread([]);
    const mallory = await tenant().user('alice');
    assertError(await mallory.addParticipant(th.id, 'mallory'), 404);
    assert.deepEqual((await (await a.user('alice')).getThread(th.id)).body.thread.participantIds, ['alice']);
  });
});

describe('DELETE /api/threads/:threadId/participants/:userId', () => {
  test('204 for removing oneself; one is then no longer a participant', async () => {
    const t = tenant();
    const [alice, bob] = await Promise.all([t.user('alice'), t.user('bob')]);
    const th = await alice.thread(['bob']);
    const r = await bob.removeParticipant(th.id, 'bob');
    assert.equal(r.status, 204, r.text);
    assertError(await bob.getThread(th.id), 403);
    assert.deepEqual((await alice.getThread(th.id)).body.thread.participantIds, ['alice']);
    const removed = (await streamOf(stack.redis, t.id)).filter((e) => e.type === 'participant.removed');
    assert.equal(removed.length, 1);
    assert.deepEqual(removed[0]!.users, ['bob']);
  });

  test('204 for an admin removing someone else (admin need not be a participant)', async () => {
    const t = tenant();
    const [alice, root] = await Promise.all([t.user('alice'), t.user('root', { admin: true })]);
    const th = await alice.thread(['bob']);
    assert.equal((await root.removeParticipant(th.id, 'bob')).status, 204);
    assert.deepEqual((await alice.getThread(th.id)).body.thread.participantIds, ['alice']);
  });

  test('403 for a non-admin removing someone else, participant or not', async () => {
    const t = tenant();
    const [alice, bob, dave] = await Promise.all([t.user('alice'), t.user('bob'), t.user('dave')]);
    const th = await alice.thread(['bob']);
    // Even the creator may not remove others without the admin role.
    assertError(await alice.removeParticipant(th.id, 'bob'), 403, 'forbidden');
    assertError(await bob.removeParticipant(th.id, 'alice'), 403, 'forbidden');
    assertError(await dave.removeParticipant(th.id, 'bob'), 403);
    assert.deepEqual(sorted((await alice.getThread(th.id)).body.thread.participantIds), ['alice', 'bob']);
    assert.equal((await streamOf(stack.redis, t.id)).filter((e) => e.type === 'participant.removed').length, 0);
  });

  test('removing a non-participant is an idempotent 204 without an event', async () => {
    const t = tenant();
    const [alice, bob, root] = await Promise.all([t.user('alice'), t.user('bob'), t.user('root', { admin: true })]);
    const th = await alice.thread(['bob']);
    assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
    assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
    assert.equal((await root.removeParticipant(th.id, 'bob')).status, 204);
    assert.equal((await root.removeParticipant(th.id, 'nobody')).status, 204);
    assert.equal((await streamOf(stack.redis, t.id)).filter((e) => e.type === 'participant.removed').length, 1);
  });

  test('404 for an unknown thread, 400 for bad ids', async () => {
    const alice = await tenant().user('alice');
    assertError(await alice.removeParticipant('th_doesnotexist', 'alice'), 404, 'not_found');
    const th = await alice.thread([]);
    assertError(await alice.removeParticipant(th.id, 'a b'), 400, 'invalid_request');
  });

  test('a removed participant can be added again', async () => {
    const t = tenant();
    const [alice, bob] = await Promise.all([t.user('alice'), t.user('bob')]);
    const th = await alice.thread(['bob']);
    assert.equal((await bob.removeParticipant(th.id, 'bob')).status, 204);
    assertError(await bob.addParticipant(th.id, 'bob'), 403, 'not_participant');
    assert.equal((await alice.addParticipant(th.id, 'bob')).status, 204);
    assert.equal((await bob.getThread(th.id)).status, 200);
  });
});
