// The read models against a model: random sends, edits, deletes, reads, joins and leaves across
// users and threads; once the processors caught up, the unread counters and the inbox projection
// equal a straightforward recomputation from the messages table (and the other tables the persist
// and receipts groups write). The same holds when batches are redelivered, reordered and split
// differently (the SIGKILL case is read-models-crash.int.test.ts: each file stays within the per-file timeout).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSql, type Sql } from '../../core/db.js';
import type { Authenticator } from '../../core/auth.js';
import type { RedisClient } from '../../core/redis.js';
import { EVENT, createdAtOf, type DecodedEvent } from '../../core/events/index.js';
import { decodedEntry } from '../support/entries.js';
import type { Seq } from '../../core/seq.js';
import { handleCounters } from '../../processors/counters.js';
import { inbox } from '../../processors/inbox.js';
import { readInbox } from '../../projections/inbox.js';
import {
  Tenant, config, createAuthenticator, log, migrateDb, startTestGateway, testRedis, type TestGateway, type User,
} from '../support/api.js';
import { uniqueTenant } from '../support/env.js';
import {
  READ_MODEL_GROUPS, SEPARATE_READ_MODEL_GROUPS, Traffic, actualState, caughtUp, expectedState, people, rng, startGroups, stopGroups,
} from '../support/read-models.js';

let gw: TestGateway;
let auth: Authenticator;
let redis: RedisClient;
let sql: Sql;
const unlimited = { rate: 0, burst: 1 };

before(async () => {
  await migrateDb(config);
  sql = createSql(config, { max: 10, app: 'test-read-models-model' });
  redis = testRedis(config);
  auth = await createAuthenticator(config);
  gw = await startTestGateway(config, {
    rateLimits: { messageUser: unlimited, messageTenant: unlimited, emitUser: unlimited, emitTenant: unlimited, presenceReadUser: unlimited, devTokenClient: unlimited },
  });
});
after(async () => {
  await gw?.close();
  redis?.disconnect();
  await sql?.end({ timeout: 5 });
});

/** Every page of each user's inbox equals the expected order and counts. */
async function assertInboxPages(tenantId: string, users: User[]): Promise<void> {
  const expected = await expectedState(sql, tenantId);
  for (const u of users) {
    const want = Object.entries(expected.counters)
      .filter(([k]) => k.endsWith(`/${u.userId}`))
      .map(([k, c]) => ({ threadId: k.slice(0, k.indexOf('/')), ...c }))
      .sort((a, b) => (a.activity !== b.activity ? (a.activity < b.activity ? 1 : -1) : a.threadId < b.threadId ? 1 : -1));
    const got: { threadId: string; unreadCount: number; lastMessageId: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const page = await readInbox(sql, tenantId, u.userId, { limit: 3, cursor });
      got.push(...page.threads);
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(got.map((x) => [x.threadId, x.unreadCount, x.lastMessageId]),
      want.map((x) => [x.threadId, x.unread, expected.projection[x.threadId]?.lastMessageId ?? null]), `inbox of ${u.userId}`);
  }
}

for (const shape of [READ_MODEL_GROUPS, SEPARATE_READ_MODEL_GROUPS]) {
  test(`random traffic (${shape.join(', ')}): counters and inbox equal a recomputation from the messages table`, async () => {
    const seed = Number(process.env['CHORUS_TEST_SEED'] ?? Date.now() % 1e9);
    const t = new Tenant(gw.api, auth, 'model');
    const small = { ...config, processors: { ...config.processors, batch: 5 } };
    // Two consumers per group with small batches: batches of one tenant run in parallel and out of order.
    const groups = await startGroups(small, sql, log, (x) => x === t.id, shape, 2);
    try {
      const { users, admin } = await people(t, 6);
      const traffic = new Traffic(users, admin, rng(seed));
      await traffic.run(400);
      traffic.assertNoServerErrors();
      await caughtUp(redis, t.id, shape);
      const expected = await expectedState(sql, t.id);
      assert.ok(Object.keys(expected.counters).length > 5, `seed ${seed}: the traffic made participants`);
      assert.deepEqual(await actualState(sql, t.id), expected, `seed ${seed}`);
      await assertInboxPages(t.id, users);
    } finally {
      await stopGroups(groups);
    }
  });
}

// Synthetic events with chosen stream ids, applied directly through the processors' handlers.
const T0 = Date.now() - 3_600_000;
const sq = (n: number) => `${T0 + n}-0` as Seq;
function ev(n: number, type: string, data: Record<string, unknown>, extra: { threadId?: string; users?: string[]; actor?: string } = {}): DecodedEvent {
  return decodedEntry(sq(n), type, data, extra);
}

function scenario(): DecodedEvent[] {
  const th = 'th_x';
  const msg = (n: number, id: string, sender: string, body: string) =>
    ev(n, EVENT.messageCreated, { id, threadId: th, senderId: sender, body, mentions: [], attachmentIds: [] }, { threadId: th, actor: sender });
  const edit = (n: number, id: string, createdN: number, sender: string, body: string) => ev(n, EVENT.messageUpdated, {
    id, threadId: th, senderId: sender, body, createdAt: createdAtOf(sq(createdN)), seq: sq(createdN), mentions: [], attachmentIds: ['att_1'],
    editedAt: createdAtOf(sq(n)),
  }, { threadId: th, actor: sender });
  const del = (n: number, id: string, createdN: number, sender: string) => ev(n, EVENT.messageDeleted, {
    id, threadId: th, senderId: sender, createdAt: createdAtOf(sq(createdN)), seq: sq(createdN), deletedBy: sender,
  }, { threadId: th, actor: sender });
  const member = (n: number, type: string, userId: string) => ev(n, type, { threadId: th, userId }, { threadId: th, users: [userId] });
  const read = (n: number, userId: string, id: string, msgN: number) =>
    ev(n, EVENT.readReceiptUpdated, { threadId: th, userId, lastReadMessageId: id, messageSeq: sq(msgN) }, { threadId: th, actor: userId });
  return [
    ev(0, EVENT.threadCreated, { id: th, title: 'x', createdAt: createdAtOf(sq(0)), createdBy: 'a', participantIds: ['a', 'b'] }, { threadId: th, users: ['a', 'b'] }),
    msg(1, 'm1', 'a', 'one'),
    msg(2, 'm2', 'a', 'two'),
    member(3, EVENT.participantAdded, 'c'),
    msg(4, 'm3', 'b', 'three'),
    read(5, 'b', 'm2', 2),
    msg(6, 'm4', 'a', 'four'),
    read(7, 'c', 'm1', 1),
    del(8, 'm4', 6, 'a'),
    edit(9, 'm3', 4, 'b', 'three, edited'),
    read(10, 'b', 'm1', 1), // older than b's position: ignored
    member(11, EVENT.participantRemoved, 'c'),
    member(12, EVENT.participantAdded, 'c'),
    msg(13, 'm5', 'c', 'five'),
    del(14, 'm2', 2, 'a'),
  ];
}

async function applyAll(tenantId: string, batches: DecodedEvent[][], parallel: boolean): Promise<void> {
  const one = async (b: DecodedEvent[]) => {
    await handleCounters(sql, redis, tenantId, b);
    await inbox.handle({ tenantId, events: b.filter((e) => inbox.canHandle(e.type)), sql, redis, log, config });
  };
  if (parallel) await Promise.all(batches.map(one));
  else for (const b of batches) await one(b);
}

test('redelivered, reordered and re-batched deliveries give the same counters and projection', async () => {
  const events = scenario();
  const inOrder = uniqueTenant('order');
  await applyAll(inOrder, [events], false);
  const reference = await actualState(sql, inOrder);
  assert.deepEqual(reference.counters['th_x/a'], { unread: 2, lastRead: null, activity: reference.counters['th_x/a']!.activity });
  // b read up to m2 (the older receipt for m1 changes nothing); m3 is b's own; m5 is unread.
  assert.equal(reference.counters['th_x/b']?.unread, 1);
  assert.equal(reference.counters['th_x/b']?.lastRead, 'm2');
  // c left and came back: m3 (after c's read position m1) counts, m5 is c's own.
  assert.equal(reference.counters['th_x/c']?.unread, 1);
  assert.equal(reference.projection['th_x']?.lastMessageId, 'm5');

  const random = rng(42);
  for (let round = 0; round < 6; round++) {
    const tenantId = uniqueTenant('shuffle');
    const copy = [...events, ...events.filter(() => random() < 0.4)].sort(() => random() - 0.5);
    const batches: DecodedEvent[][] = [];
    for (let i = 0; i < copy.length;) {
      const n = 1 + Math.floor(random() * 4);
      batches.push(copy.slice(i, i + n));
      i += n;
    }
    await applyAll(tenantId, batches, round % 2 === 1);
    await applyAll(tenantId, batches.slice(0, 2), false); // a redelivery of already applied batches
    assert.deepEqual(await actualState(sql, tenantId), reference, `round ${round}`);
  }
});
