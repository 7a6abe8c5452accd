// The persist processor against the real Postgres: the same final rows whatever the order,
// batching, duplication and parallelism of deliveries; duplicate clientMessageIds do not fail a
// batch; a poison entry fails its batch without writing anything; tenants never see each other.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSql, withTenant, type Sql } from '../../core/db.js';
import { createLogger } from '../../core/logger.js';
import { createRedis, type RedisClient } from '../../core/redis.js';
import { migrate } from '../../core/migrate.js';
import { isDependencyError } from '../../core/errors.js';
import { EVENT, createdAtOf, type DecodedEvent } from '../../core/events/index.js';
import { decodedEntry } from '../support/entries.js';
import type { Seq } from '../../core/seq.js';
import { persist } from '../../processors/persist.js';
import { testConfig, uniqueTenant } from '../support/env.js';

const config = testConfig();
const log = createLogger({ role: 'test', level: 'warn' });
let sql: Sql;
let redis: RedisClient;

before(async () => {
  sql = createSql(config, { max: 8, app: 'test-persist' });
  redis = createRedis(config, { name: 'test-persist' });
  await migrate(sql);
});
after(async () => {
  await sql.end({ timeout: 5 });
  redis.disconnect();
});

const T0 = Date.now() - 3_600_000;
const seq = (n: number) => `${T0 + Math.floor(n / 3)}-${n % 3}` as Seq; // some entries share a millisecond

function ev(n: number, type: string, data: Record<string, unknown>, extra: { threadId?: string; users?: string[]; actor?: string } = {}): DecodedEvent {
  return decodedEntry(seq(n), type, data, extra);
}

function apply(tenantId: string, events: DecodedEvent[]): Promise<void> {
  return persist.handle({ tenantId, events, sql, redis, log, config });
}

/** Everything persisted for a tenant, in a canonical order and without the tenant column. */
async function snapshot(tenantId: string) {
  // Spread into plain arrays: query results carry connection state that differs between calls.
  return withTenant(sql, tenantId, async (tx) => ({
    threads: [...await tx`select id, title, created_by, created_at, seq_key from threads order by id`],
    participants: [...await tx`select thread_id, user_id, joined_at, removed_at, seq_key from thread_participants order by thread_id, user_id`],
    messages: [...await tx`
      select id, thread_id, sender_id, body, client_message_id, mentions, attachment_ids, created_at, seq, body_seq_key,
        edited_at, deleted_at, deleted_by, deleted_seq_key
      from messages order by id`],
    archive: [...await tx`select seq_key, seq, type, v, thread_id, users, actor, data from event_archive order by seq_key`],
  }));
}

/** A thread's life: membership changes, messages created, edited (twice) and deleted. */
function scenario(): DecodedEvent[] {
  const th = 'th_1';
  const msg = (n: number, id: string, body: string, more: Record<string, unknown> = {}) =>
    ev(n, EVENT.messageCreated, { id, threadId: th, senderId: 'alice', body, mentions: [], attachmentIds: [], ...more }, { threadId: th, actor: 'alice' });
  const edit = (n: number, id: string, createdN: number, body: string) => ev(n, EVENT.messageUpdated, {
    id, threadId: th, senderId: 'alice', body, createdAt: createdAtOf(seq(createdN)), seq: seq(createdN),
    mentions: ['bob'], attachmentIds: [], editedAt: createdAtOf(seq(n)),
    ...(id === 'm_3' ? { clientMessageId: 'c3' } : {}),
  }, { threadId: th, actor: 'alice' });
  const del = (n: number, id: string, createdN: number, by: string) => ev(n, EVENT.messageDeleted, {
    id, threadId: th, senderId: 'alice', createdAt: createdAtOf(seq(createdN)), seq: seq(createdN), deletedBy: by,
  }, { threadId: th, actor: by });
  const member = (n: number, type: string, userId: string) =>
    ev(n, type, { threadId: th, userId, ...(type === EVENT.participantAdded ? { addedBy: 'alice' } : { removedBy: userId }) }, { threadId: th, users: [userId] });
  return [
    ev(0, EVENT.threadCreated, { id: th, title: 'ops', createdAt: createdAtOf(seq(0)), createdBy: 'alice', participantIds: ['alice', 'bob'] }, { threadId: th }),
    member(1, EVENT.participantAdded, 'carol'),
    msg(2, 'm_1', 'one'),
    msg(3, 'm_2', 'two'),
    msg(4, 'm_3', 'three', { clientMessageId: 'c3', mentions: ['carol'] }),
    member(5, EVENT.participantRemoved, 'bob'),
    edit(6, 'm_1', 2, 'one, edited'),
    edit(7, 'm_1', 2, 'one, edited again'),
    del(8, 'm_2', 3, 'alice'),
    edit(9, 'm_2', 3, 'two, edited after its deletion was accepted elsewhere'),
    member(10, EVENT.participantAdded, 'bob'),
    member(11, EVENT.participantRemoved, 'carol'),
    msg(12, 'm_4', 'four'),
    edit(13, 'm_3', 4, 'three, edited'),
    del(14, 'm_1', 2, 'admin'),
    del(15, 'm_1', 2, 'alice'),
    ev(16, EVENT.readReceiptUpdated, { threadId: th, userId: 'bob', lastReadMessageId: 'm_4', messageSeq: seq(4) }, { users: ['bob'] }),
    msg(17, 'm_5', 'five'),
  ];
}

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

test('in order, the scenario gives the expected rows', async () => {
  const tenant = uniqueTenant('persist');
  await apply(tenant, scenario());
  const s = await snapshot(tenant);
  assert.deepEqual(s.threads.map((t) => [t['id'], t['title'], t['created_by']]), [['th_1', 'ops', 'alice']]);
  const members = s.participants.filter((p) => p['removed_at'] === null).map((p) => p['user_id']);
  assert.deepEqual(members, ['alice', 'bob'], 'bob re-added, carol removed');
  const m = new Map(s.messages.map((r) => [r['id'], r]));
  assert.equal(m.get('m_1')?.['body'], 'one, edited again');
  assert.equal(m.get('m_1')?.['deleted_by'], 'admin', 'the earliest deletion wins');
  assert.equal(m.get('m_2')?.['deleted_by'], 'alice', 'a later edit does not undo a delete');
  assert.equal(m.get('m_3')?.['client_message_id'], 'c3');
  assert.deepEqual(m.get('m_3')?.['mentions'], ['bob']);
  assert.equal((m.get('m_3')?.['edited_at'] as Date).toISOString(), createdAtOf(seq(13)));
  assert.equal((m.get('m_4')?.['created_at'] as Date).toISOString(), createdAtOf(seq(12)));
  assert.equal(m.get('m_4')?.['seq'], seq(12));
  assert.equal(m.get('m_5')?.['edited_at'], null);
  assert.equal(s.archive.length, scenario().length);
});

test('shuffled, duplicated, re-batched and parallel deliveries give the same rows', async () => {
  const reference = uniqueTenant('persist');
  await apply(reference, scenario());
  const expected = await snapshot(reference);
  for (let round = 0; round < 12; round++) {
    const tenant = uniqueTenant('persist');
    const events = scenario();
    // At-least-once: some entries come twice, in other batches.
    const deliveries = shuffle([...events, ...events.filter(() => Math.random() < 0.4)]);
    const batches: DecodedEvent[][] = [];
    for (let i = 0; i < deliveries.length;) {
      const size = 1 + Math.floor(Math.random() * 6);
      // A batch from one XREADGROUP never holds an entry twice.
      const batch = [...new Map(deliveries.slice(i, i + size).map((e) => [e.seq, e])).values()];
      batches.push(batch);
      i += size;
    }
    // Several consumers at once: batches are applied in waves of concurrent transactions.
    for (let i = 0; i < batches.length; i += 3) {
      await Promise.all(batches.slice(i, i + 3).map((b) => apply(tenant, b)));
    }
    assert.deepEqual(await snapshot(tenant), expected, `round ${round}`);
  }
});

test('a clientMessageId already used by another message of the sender does not fail the batch', async () => {
  const tenant = uniqueTenant('persist');
  const msg = (n: number, id: string) => ev(n, EVENT.messageCreated,
    { id, threadId: 'th_1', senderId: 'alice', body: id, clientMessageId: 'same', mentions: [], attachmentIds: [] });
  await apply(tenant, [msg(1, 'm_a')]);
  await apply(tenant, [msg(2, 'm_b'), msg(3, 'm_c')]);
  const s = await snapshot(tenant);
  assert.deepEqual(s.messages.map((m) => m['id']), ['m_a']);
  assert.equal(s.archive.length, 3);
});

test('a poison entry fails its whole batch and writes nothing (one transaction)', async () => {
  const tenant = uniqueTenant('persist');
  const good = ev(1, EVENT.messageCreated, { id: 'm_ok', threadId: 'th_1', senderId: 'alice', body: 'fine', mentions: [], attachmentIds: [] });
  const poison = ev(2, EVENT.messageCreated, { id: 'm_bad', threadId: 'th_1', senderId: 'alice', body: 'nul \u0000 byte', mentions: [], attachmentIds: [] });
  await assert.rejects(apply(tenant, [good, poison]), (err: unknown) => !isDependencyError(err));
  const s = await snapshot(tenant);
  assert.equal(s.messages.length + s.archive.length, 0);
  await apply(tenant, [good]);
  assert.equal((await snapshot(tenant)).messages.length, 1);
});

test('row-level security: a tenant transaction sees and writes only its own rows', async () => {
  const a = uniqueTenant('rls');
  const b = uniqueTenant('rls');
  await apply(a, scenario());
  const fromB = await snapshot(b);
  assert.deepEqual(fromB, { threads: [], participants: [], messages: [], archive: [] });
  // Without a tenant set, nothing at all is visible.
  assert.equal((await sql`select count(*)::int as n from messages where tenant_id = ${a}`)[0]?.['n'], 0);
  // Writing another tenant's row from b's transaction is refused.
  await assert.rejects(
    withTenant(sql, b, (tx) => tx`insert into threads (tenant_id, id, title, created_by, created_at, seq_key) values (${a}, 'x', null, 'u', now(), '0')`),
    /row-level security/,
  );
  assert.equal((await snapshot(a)).threads.length, 1);
});
