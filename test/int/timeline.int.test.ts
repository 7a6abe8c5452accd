// GET /api/threads/:threadId/messages as the contract states it: newest first, opaque cursors,
// limit default 50 and clamped to 50, deleted messages excluded, the 202 message object shape.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSql, withTenant, type Sql } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import { createRedis, type RedisClient } from '../../core/redis.js';
import { migrate } from '../../core/migrate.js';
import { AppError } from '../../core/errors.js';
import { EVENT, createdAtOf, type DecodedEvent } from '../../core/events/index.js';
import { decodedEntry } from '../support/entries.js';
import type { Seq } from '../../core/seq.js';
import { persist } from '../../processors/persist.js';
import { readTimeline } from '../../projections/timeline.js';
import { encodeCursor } from '../../projections/cursor.js';
import { testConfig, uniqueTenant } from '../support/env.js';

const config = testConfig();
const log = createLogger({ role: 'test', level: 'warn' });
let sql: Sql;
let redis: RedisClient;

const TH = 'th_main';
const COUNT = 64;
const T0 = Date.now() - 3_600_000;
// Pairs of messages share a millisecond, so the id must break the tie.
const seqOf = (i: number) => `${T0 + Math.floor(i / 2)}-${i % 2}` as Seq;
// Ids deliberately not in creation order within a millisecond.
const idOf = (i: number) => `m_${String(i).padStart(3, '0')}${i % 2 ? 'a' : 'z'}`;
const DELETED = new Set([3, 10, 11, 40, 63]);
const EDITED = new Set([5, 62]);

let tenant: string;

function ev(seq: Seq, type: string, data: Record<string, unknown>): DecodedEvent {
  return decodedEntry(seq, type, data, { threadId: data['threadId'] as string, actor: 'alice' });
}

before(async () => {
  sql = createSql(config, { max: 4, app: 'test-timeline' });
  redis = createRedis(config, { name: 'test-timeline' });
  await migrate(sql);
  tenant = uniqueTenant('timeline');
  const events: DecodedEvent[] = [];
  for (let i = 0; i < COUNT; i++) {
    events.push(ev(seqOf(i), EVENT.messageCreated, {
      id: idOf(i), threadId: TH, senderId: i % 3 ? 'alice' : 'bob', body: `message ${i}`,
      ...(i % 4 === 0 ? { clientMessageId: `c${i}` } : {}), mentions: i === 5 ? ['bob'] : [], attachmentIds: [],
    }));
  }
  const later = (n: number) => `${T0 + 100_000 + n}-0` as Seq;
  let n = 0;
  for (const i of EDITED) {
    events.push(ev(later(n++), EVENT.messageUpdated, {
      id: idOf(i), threadId: TH, senderId: i % 3 ? 'alice' : 'bob', body: `message ${i}, edited`, createdAt: createdAtOf(seqOf(i)),
      seq: seqOf(i), mentions: i === 5 ? ['bob'] : [], attachmentIds: [], editedAt: createdAtOf(later(n)),
    }));
  }
  for (const i of DELETED) {
    events.push(ev(later(n++), EVENT.messageDeleted, {
      id: idOf(i), threadId: TH, senderId: i % 3 ? 'alice' : 'bob', createdAt: createdAtOf(seqOf(i)), seq: seqOf(i), deletedBy: 'alice',
    }));
  }
  // Noise that must never show: another thread of the tenant, the same thread id in another tenant.
  events.push(ev(later(n++), EVENT.messageCreated, { id: 'm_other', threadId: 'th_other', senderId: 'alice', body: 'elsewhere', mentions: [], attachmentIds: [] }));
  await persist.handle({ tenantId: tenant, events, sql, redis, log, config });
  await persist.handle({
    tenantId: uniqueTenant('timeline'), sql, redis, log, config,
    events: [ev(later(n++), EVENT.messageCreated, { id: 'm_foreign', threadId: TH, senderId: 'eve', body: 'other tenant', mentions: [], attachmentIds: [] })],
  });
});

after(async () => {
  await sql.end({ timeout: 5 });
  redis.disconnect();
});

/** The live messages, newest first: (createdAt desc, id desc). */
function expectedIds(): string[] {
  const live = [...Array(COUNT).keys()].filter((i) => !DELETED.has(i));
  return live
    .map((i) => ({ at: createdAtOf(seqOf(i)), id: idOf(i) }))
    .sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1))
    .map((m) => m.id);
}

test('pages walk the whole timeline newest first, without gaps or repeats', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await readTimeline(sql, tenant, TH, { limit: 7, cursor });
    assert.ok(page.messages.length <= 7);
    seen.push(...page.messages.map((m) => m.id));
    cursor = page.nextCursor;
    pages++;
    assert.ok(pages < 50, 'pagination terminates');
  } while (cursor);
  assert.deepEqual(seen, expectedIds());
  assert.equal(pages, Math.ceil(expectedIds().length / 7));
});

test('message objects have the contract shape; deleted ones are excluded', async () => {
  const first = await readTimeline(sql, tenant, TH, { limit: 50 });
  const second = await readTimeline(sql, tenant, TH, { limit: 50, cursor: first.nextCursor });
  const byId = new Map([...first.messages, ...second.messages].map((m) => [m.id, m]));
  assert.equal(byId.size, expectedIds().length);
  for (const i of DELETED) assert.equal(byId.has(idOf(i)), false);
  assert.equal(byId.has('m_other'), false);
  assert.equal(byId.has('m_foreign'), false);
  assert.deepEqual(byId.get(idOf(8)), {
    id: idOf(8), threadId: TH, senderId: 'alice', body: 'message 8', createdAt: createdAtOf(seqOf(8)), seq: seqOf(8),
    clientMessageId: 'c8', mentions: [], attachmentIds: [],
  });
  const plain = byId.get(idOf(7));
  assert.ok(plain && !('clientMessageId' in plain) && !('editedAt' in plain), 'absent optional fields are omitted');
  const edited = byId.get(idOf(62));
  assert.equal(edited?.body, 'message 62, edited');
  assert.match(edited?.editedAt ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(Object.keys(edited ?? {}), ['id', 'threadId', 'senderId', 'body', 'createdAt', 'seq', 'mentions', 'attachmentIds', 'editedAt']);
});

test('limit: default 50, above 50 clamped to 50, invalid values refused', async () => {
  const first = await readTimeline(sql, tenant, TH);
  assert.equal(first.messages.length, 50);
  assert.notEqual(first.nextCursor, null);
  assert.equal((await readTimeline(sql, tenant, TH, { limit: 500 })).messages.length, 50);
  assert.equal((await readTimeline(sql, tenant, TH, { limit: '1000' })).messages.length, 50);
  assert.equal((await readTimeline(sql, tenant, TH, { limit: '3' })).messages.length, 3);
  const last = await readTimeline(sql, tenant, TH, { limit: 50, cursor: first.nextCursor });
  assert.equal(last.messages.length, expectedIds().length - 50);
  assert.equal(last.nextCursor, null, 'null on the last page');
  for (const limit of [0, -1, 2.5, '0', 'ten', '1e2']) {
    await assert.rejects(readTimeline(sql, tenant, TH, { limit }), (e: unknown) => e instanceof AppError && e.code === 'invalid_request', String(limit));
  }
});

test('cursors: garbage is invalid_cursor; a cursor past the oldest message gives an empty last page', async () => {
  for (const cursor of ['garbage!', 'e30', Buffer.from('{"c":"x","i":"m"}').toString('base64url')]) {
    await assert.rejects(readTimeline(sql, tenant, TH, { cursor }), (e: unknown) => e instanceof AppError && e.code === 'invalid_cursor', cursor);
  }
  const end = await readTimeline(sql, tenant, TH, { cursor: encodeCursor({ at: '2000-01-01T00:00:00.000Z', id: 'm_0' }) });
  assert.deepEqual(end, { messages: [], nextCursor: null });
  assert.deepEqual(await readTimeline(sql, tenant, 'th_none'), { messages: [], nextCursor: null });
});

test('the next-page query is an index scan on messages_timeline_live', async () => {
  // Fresh statistics: a tenant created a moment ago is estimated at ~1 row, where any plan is cheap.
  await sql`analyze messages`;
  const plan = await withTenant(sql, tenant, async (tx) => {
    await tx`set local enable_seqscan = off`;
    return tx`
      explain select id from messages
      where tenant_id = ${tenant} and thread_id = ${TH} and deleted_at is null
        and (created_at, id) < (${createdAtOf(seqOf(30))}::timestamptz, ${idOf(30)}::text)
      order by created_at desc, id desc limit 8`;
  });
  const text = plan.map((r) => r['QUERY PLAN']).join('\n');
  assert.match(text, /Index (Only )?Scan using messages_timeline_live/);
  assert.doesNotMatch(text, /Sort/, 'the index order is the page order');
});
